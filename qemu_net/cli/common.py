"""Helpers shared by subcommands: resolving the topology, connecting to or starting a network."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qemu_net.client import Network
    from qemu_net.network.topology import Topology


def state_dir() -> Path:
    return Path(os.environ.get("QNET_STATE_DIR", Path.home() / ".qnet"))


def state_path(name: str) -> Path:
    return state_dir() / f"{name}.json"


def add_topology_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--topology", "-t", metavar="FILE",
                   help="topology YAML file (default: the embedded alice--repeater--bob network)")


def load(args: argparse.Namespace) -> Topology:
    from qemu_net.network.topology import default_topology, load_topology

    return load_topology(args.topology) if getattr(args, "topology", None) else default_topology()


def read_state(name: str) -> dict | None:
    p = state_path(name)
    if not p.exists():
        return None
    return json.loads(p.read_text())


@contextlib.contextmanager
def network(topology: Topology, *, allow_inspect: bool = False, use_running: bool = True) -> Iterator[Network]:
    """Connect to the network `qnet up` started for this topology, or start a temporary local one."""
    from qemu_net.client import LocalNetwork, Network
    from qemu_net.network.topology import parse_topology

    if all(n.address for n in topology.nodes):
        with Network.connect(topology) as net:
            yield net
        return
    state = read_state(topology.name) if use_running else None
    if state is not None and _alive(state.get("supervisor_pid", 0)):
        running = parse_topology(state["topology"], source=str(state_path(topology.name)))
        with Network.connect(running) as net:
            yield net
        return
    with LocalNetwork.start(topology, allow_inspect=allow_inspect) as local, Network.connect(local.topology) as net:
        yield net


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
