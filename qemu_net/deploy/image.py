"""The node image's versioned tag: the package version plus a hash of what goes into the image.

``localhost/qnet:0.1.0-3f2a9c1b7d4e`` - the version (``qemu_net.__version__``) and the first 12 hex
digits of a SHA-256 over every file the image build copies (pyproject.toml, README.md, the
``qemu_net`` package without bytecode) and the Containerfile itself. Two trees give the same tag
exactly when they build the same image, so a tag never names two different images: a node that
already has ``VERSION-HASH`` has the right one, and ``imagePullPolicy: IfNotPresent`` cannot serve a
stale image. `deploy/build-image.sh` tags what it builds with `image_tag` (``python -m
qemu_net.deploy.image``), and ``qnet deploy compose|k8s`` render the same tag by default.

Tags that can move (none, ``latest``, ``dev``, anything not of this form) get ``imagePullPolicy:
Always`` (`pull_policy`), so a rebuilt image under an old name is always fetched again.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path

#: The repository the build script tags into when no --registry is given (what local clusters load).
LOCAL_REPOSITORY = "localhost/qnet"
#: What the image build copies (relative to the repository root), besides the package directory.
_FILES = ("pyproject.toml", "README.md", "deploy/Dockerfile")
_SKIP_DIRS = {"__pycache__"}
_SKIP_SUFFIXES = (".pyc", ".pyo")
#: VERSION-HASH12: the tags `image_tag` makes.
CONTENT_TAG = re.compile(r"^\d+\.\d+[0-9A-Za-z.+!]*-[0-9a-f]{12}$")


def source_root() -> Path:
    """The source tree this package was imported from (the repository root)."""
    return Path(__file__).resolve().parents[2]


def source_hash(root: Path | None = None) -> str:
    """SHA-256 (hex) over the relative paths and contents of every file the image build copies."""
    root = root or source_root()
    if not (root / "pyproject.toml").is_file():
        raise FileNotFoundError(f"{root}: no pyproject.toml; the image tag is computed from a source checkout")
    files = [root / f for f in _FILES if (root / f).is_file()]
    for path in sorted((root / "qemu_net").rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and not _SKIP_DIRS.intersection(rel.parts) and not path.name.endswith(_SKIP_SUFFIXES):
            files.append(path)
    h = hashlib.sha256()
    for path in sorted(files, key=lambda p: p.relative_to(root).as_posix()):
        data = path.read_bytes()
        h.update(f"{path.relative_to(root).as_posix()}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def package_version(root: Path | None = None) -> str:
    """``__version__`` as written in the tree's qemu_net/__init__.py (not the installed metadata)."""
    root = root or source_root()
    text = (root / "qemu_net" / "__init__.py").read_text()
    m = re.search(r'^__version__\s*=\s*["\']([^"\']+)["\']', text, re.MULTILINE)
    if not m:
        raise ValueError(f"{root}/qemu_net/__init__.py: no __version__")
    return m.group(1)


def image_tag(root: Path | None = None) -> str:
    """VERSION-HASH12 for the tree at `root` (default: this package's source tree)."""
    return f"{package_version(root)}-{source_hash(root)[:12]}"


def default_image(registry: str | None = None, root: Path | None = None) -> str:
    """``REGISTRY/qnet:VERSION-HASH12`` (default registry: ``localhost``, what local clusters load)."""
    repo = f"{registry.rstrip('/')}/qnet" if registry else LOCAL_REPOSITORY
    return f"{repo}:{image_tag(root)}"


def is_immutable(image: str) -> bool:
    """True for a digest reference or a VERSION-HASH12 tag: the name cannot come to mean another image."""
    if "@sha256:" in image:
        return True
    last = image.rsplit("/", 1)[-1]
    return ":" in last and bool(CONTENT_TAG.match(last.rsplit(":", 1)[1]))


def pull_policy(image: str) -> str:
    """``IfNotPresent`` for immutable references (never stale), else ``Always``."""
    return "IfNotPresent" if is_immutable(image) else "Always"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qemu_net.deploy.image",
                                     description="Print the node image's versioned tag for this source tree.")
    parser.add_argument("--registry", help="prefix, e.g. registry.example.com/team (default: localhost)")
    parser.add_argument("--tag-only", action="store_true", help="print only VERSION-HASH12")
    parser.add_argument("--root", type=Path, help="repository root (default: this package's source tree)")
    args = parser.parse_args(argv)
    print(image_tag(args.root) if args.tag_only else default_image(args.registry, args.root))
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["CONTENT_TAG", "LOCAL_REPOSITORY", "default_image", "image_tag", "is_immutable", "pull_policy",
           "source_hash"]
