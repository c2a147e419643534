"""What a `qnet` command imports: listing the commands, or stopping a network, loads no SDK, node, Cirq or
numpy (each costs seconds of CPU on a busy machine)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("cirq", "numpy", "scipy", "matplotlib", "qemu_net.client", "qemu_net.node.core", "qemu_net._proto")

PROBE = """
import json, sys
from qemu_net.cli.main import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def loaded(args: list[str], tmp_path: Path) -> tuple[int, set[str]]:
    env = {**os.environ, "QNET_STATE_DIR": str(tmp_path / "state")}
    env.pop("OTEL_TRACES_EXPORTER", None)
    r = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env, timeout=120)
    report = json.loads(r.stderr.strip().splitlines()[-1])
    return report["code"], set(report["modules"])


@pytest.mark.parametrize("args", [["--help"], ["down"], ["run", "--help"], ["keys", "status", "--help"]])
def test_command_loads_nothing_heavy(args: list[str], tmp_path: Path) -> None:
    code, modules = loaded(args, tmp_path)
    assert code == 0
    heavy = sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert heavy == [], heavy


def test_help_imports_no_subcommand_module(tmp_path: Path) -> None:
    from qemu_net.cli.main import COMMANDS

    code, modules = loaded(["--help"], tmp_path)
    assert code == 0
    assert not {module for module, _ in COMMANDS.values()} & modules
    assert "pydantic" not in modules and "grpc" not in modules
