"""What a user checks first: the version, the licence, and docs/deploy.md agreeing with the manifests."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import yaml

import qemu_net
from qemu_net.deploy.k8s import DEFAULT_IMAGE

ROOT = Path(__file__).resolve().parents[2]


def test_version_comes_from_package_metadata():
    """`qnet --version` prints the installed distribution's version, which is qemu_net.__version__."""
    r = subprocess.run([sys.executable, "-m", "qemu_net.cli.main", "--version"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0
    assert r.stdout.strip() == f"qnet {version('qemu_net')}"
    assert version("qemu_net") == qemu_net.__version__
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" in project.get("dynamic", [])


def test_licence_file_matches_pyproject():
    """LICENSE is the Apache License 2.0 text, as pyproject.toml declares."""
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text and "END OF TERMS AND CONDITIONS" in text
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == {"text": "Apache-2.0"}


def _images(docs) -> set[str]:
    out = set()

    def walk(x):
        if isinstance(x, dict):
            for k, v in x.items():
                if k == "image" and isinstance(v, str):
                    out.add(v)
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    for d in docs:
        walk(d)
    return out


def test_deploy_doc_names_exactly_what_the_manifests_use():
    """The image tag, names and ports in docs/deploy.md are those of the committed compose and k8s files."""
    doc = (ROOT / "docs" / "deploy.md").read_text()
    compose = yaml.safe_load((ROOT / "deploy" / "compose" / "compose.yaml").read_text())
    k8s = [d for f in sorted((ROOT / "deploy" / "k8s").glob("*.yaml")) if f.name != "kustomization.yaml"
           for d in yaml.safe_load_all(f.read_text()) if d]
    # The committed sample carries the VERSION-HASH12 tag of the tree it was rendered from (the hash
    # follows every source change; `qnet deploy` always renders the current one, DEFAULT_IMAGE).
    (image,) = _images([compose]) | _images(k8s)
    assert re.fullmatch(rf"localhost/qnet:{re.escape(qemu_net.__version__)}-[0-9a-f]{{12}}", image), image
    assert re.fullmatch(rf"localhost/qnet:{re.escape(qemu_net.__version__)}-[0-9a-f]{{12}}", DEFAULT_IMAGE)
    tags = set(re.findall(r"localhost/qnet:[\w.-]+", doc))
    assert tags == {"localhost/qnet:VERSION-HASH12"}, tags
    # The Dockerfile's comments and build-image.sh tag what `python -m qemu_net.deploy.image` prints.
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert set(re.findall(r' -t ("\$\(python -m qemu_net\.deploy\.image\)"|\S+)', dockerfile)) == {
        '"$(python -m qemu_net.deploy.image)"'}
    script = (ROOT / "deploy" / "build-image.sh").read_text()
    assert "-m qemu_net.deploy.image --tag-only" in script and 'IMAGE="${IMAGE:-localhost/qnet:$TAG}"' in script
    assert f"name: {compose['name']}" in doc or f"project `{compose['name']}`" in doc
    for svc in compose["services"]:
        assert f"`{svc}`" in doc, svc
    by_kind = {(d["kind"], d["metadata"]["name"]) for d in k8s}
    for kind, name in by_kind:
        if kind == "Namespace":
            assert f"namespace `{name}`" in doc and f"-n {name}" in doc
        elif kind == "StatefulSet":
            assert f"StatefulSet `{name}`" in doc and f"statefulset/{name}" in doc
        elif kind == "Job":
            assert f"Job `{name}`" in doc and f"job/{name}" in doc
        elif kind in ("Service", "ConfigMap"):
            assert f"`{name}`" in doc, (kind, name)
    assert "## Troubleshooting" in doc
