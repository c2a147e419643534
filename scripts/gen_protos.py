"""Regenerate qemu_net/_proto from protos/ (the one way generated code is produced).

    python scripts/gen_protos.py          # rewrite qemu_net/_proto
    python scripts/gen_protos.py --check  # exit 1 if the committed code is not what protos/ generates

Proto files live at protos/qemu_net/v1/ (proto package ``qemu_net.v1``); protoc runs with ``-I protos``
so generated imports come out as ``qemu_net.v1``, which this script rewrites to ``qemu_net._proto.v1``.
Requires grpcio-tools==1.85.1 (pinned in pyproject's test extra; generated code pins its runtime).
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
OUT = ROOT / "qemu_net" / "_proto"


def generate(dest: Path) -> None:
    from grpc_tools import protoc  # noqa: PLC0415 - only needed here
    import grpc_tools

    files = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    with tempfile.TemporaryDirectory() as tmp:
        include = str(Path(grpc_tools.__file__).parent / "_proto")
        args = ["protoc", f"-I{PROTOS}", f"-I{include}", f"--python_out={tmp}", f"--pyi_out={tmp}",
                f"--grpc_python_out={tmp}", *files]
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed")
        src = Path(tmp) / "qemu_net" / "v1"
        (dest / "v1").mkdir(parents=True, exist_ok=True)
        (dest / "__init__.py").write_text('"""Generated gRPC code; regenerate with scripts/gen_protos.py."""\n')
        (dest / "v1" / "__init__.py").write_text("")
        for f in sorted(src.iterdir()):
            text = f.read_text().replace("from qemu_net.v1 import", "from qemu_net._proto.v1 import")
            text = text.replace("import qemu_net.v1.", "import qemu_net._proto.v1.")
            (dest / "v1" / f.name).write_text(text)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="fail if the committed code is out of date")
    args = ap.parse_args()
    if not args.check:
        if OUT.exists():
            shutil.rmtree(OUT)
        generate(OUT)
        print(f"generated {OUT.relative_to(ROOT)}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "_proto"
        generate(fresh)
        cmp = filecmp.dircmp(fresh / "v1", OUT / "v1")
        stale = cmp.left_only + cmp.right_only + cmp.diff_files
        stale = [s for s in stale if s != "__pycache__"]
        if stale:
            print(f"generated gRPC code is out of date ({', '.join(sorted(stale))}): run python scripts/gen_protos.py",
                  file=sys.stderr)
            return 1
    print("generated gRPC code is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
