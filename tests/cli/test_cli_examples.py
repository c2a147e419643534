"""The examples the CLI's help prints, run as written against the network they name."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

QNET = [sys.executable, "-m", "qemu_net.cli.main"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "QNET_STATE_DIR": str(tmp_path / "state")}


def qnet(args: list[str], env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*QNET, *args], capture_output=True, text=True, env=env, timeout=timeout)


def help_example(doc: str) -> list[list[str]]:
    """The first block of `qnet ...` lines of a module docstring, each split into arguments (comments dropped)."""
    lines: list[list[str]] = []
    for line in doc.splitlines():
        text = line.split("#", 1)[0].strip()
        if text.startswith("qnet "):
            lines.append(text.split()[1:])
        elif lines:
            break
    return lines


def test_keys_help_example_runs_on_the_default_network(env: dict[str, str]) -> None:
    """`qnet keys --help`'s example on the default network: up, one QKD session, status, get, get-with-ids."""
    from qemu_net.cli import cmd_keys

    assert cmd_keys.__doc__ is not None
    steps = help_example(cmd_keys.__doc__)
    assert [s[:2] for s in steps] == [["up"], ["run", "qkd"], ["keys", "status"], ["keys", "get"],
                                      ["keys", "get-with-ids"]]
    up = qnet(steps[0], env)
    assert up.returncode == 0, up.stderr
    try:
        r = qnet(steps[1], env, timeout=280)
        assert r.returncode == 0, r.stdout + r.stderr
        st = qnet(steps[2], env)
        assert st.returncode == 0, st.stderr
        stored = int(re.search(r"([\d,]+) key bits stored", st.stdout).group(1).replace(",", ""))  # type: ignore[union-attr]
        assert stored >= 4 * 256, st.stdout
        got = qnet(steps[3], env)
        assert got.returncode == 0, got.stderr
        keys = [line.split() for line in got.stdout.splitlines() if line.strip()]
        assert len(keys) == 4 and all(size == "256" for _, size in keys), got.stdout
        ids = [key_id for key_id, _ in keys]
        args = steps[4]
        slave = qnet([*args[:args.index("ID")], *ids], env)
        assert slave.returncode == 0, slave.stderr
        assert [line.split()[0] for line in slave.stdout.splitlines() if line.strip()] == ids
    finally:
        down = qnet(["down"], env)
    assert down.returncode == 0, down.stderr
