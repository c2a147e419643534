"""Helpers shared by subcommands: resolving the topology, connecting to or starting a network."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

if TYPE_CHECKING:
    from qemu_net.client import Network
    from qemu_net.network.topology import Topology
    from qemu_net.node.launcher import ProcessRecord


def state_dir() -> Path:
    """Where `qnet up` keeps one state file per network: ``$QNET_STATE_DIR``, else ``~/.qnet``."""
    return Path(os.environ.get("QNET_STATE_DIR", Path.home() / ".qnet"))


def state_path(name: str) -> Path:
    return state_dir() / f"{name}.json"


def add_topology_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--topology", "-t", metavar="FILE",
                   help="topology YAML file, '-' for standard input "
                        "(default: the embedded alice--repeater--bob network)")
    p.add_argument("--chain", type=int, metavar="N",
                   help="instead of a file: a chain of N nodes n0 -- ... -- n(N-1) (like `qnet topology chain N`)")


def group_help(parser: argparse.ArgumentParser) -> int:
    """A command group run without a subcommand: print its help; exit status 2."""
    parser.print_help()
    return 2


#: command-line flag -> (topology section, key, help). Applied to every quantum link / every node; the
#: link flags are listed first, then ``--preset``, then the node flags.
_PHYSICS_FLAGS: dict[str, tuple[str, str, str]] = {
    "length_km": ("links", "length_km", "fiber length of every link"),
    "attenuation_db_per_km": ("links", "attenuation_db_per_km", "fiber attenuation (0.2 is typical at 1550 nm)"),
    "link_fidelity": ("links", "source_fidelity", "EPR source fidelity of every link (Werner by default)"),
    "transmission_depolarize": ("links", "transmission_depolarize", "depolarising probability of a photon in transit"),
    "detector_efficiency": ("links", "detector_efficiency", "detector efficiency in (0, 1]"),
    "dark_count_probability": ("links", "dark_count_probability", "dark-count probability per detection window"),
    "misalignment_error": ("links", "misalignment_error", "optical misalignment (QKD detector flip probability)"),
    "group_index": ("links", "group_index", "fiber group index (1.468: 4.897 us/km)"),
    "heralding": ("links", "heralding", "EPR heralding: at the far end (source) or at a midpoint station"),
    "bright_state_alpha": ("links", "bright_state_alpha", "single-click bright-state population alpha"),
    "spdc_mean_pair_number": ("links", "spdc_mean_pair_number", "SPDC source mean pair number (multi-pair emission)"),
    "detector_dead_time_ns": ("links", "detector_dead_time_ns", "detector dead time after each click, ns"),
    "t1_s": ("nodes", "t1_s", "memory T1 of every node, seconds"),
    "t2_s": ("nodes", "t2_s", "memory T2 of every node, seconds (<= 2*T1)"),
    "gate_1q_error": ("nodes", "gate_1q_error", "depolarising error after 1-qubit gates"),
    "gate_2q_error": ("nodes", "gate_2q_error", "depolarising error after 2-qubit gates"),
    "measure_error": ("nodes", "measure_error", "readout flip probability"),
}
#: command-line flag -> (topology section, key).
PHYSICS_OVERRIDES = {flag: (section, key) for flag, (section, key, _) in _PHYSICS_FLAGS.items()}


def _add_physics_flags(g: argparse._ArgumentGroup, section: str) -> None:
    for flag, (where, _, text) in _PHYSICS_FLAGS.items():
        if where == section:
            kind: dict[str, Any] = ({"choices": ("source", "single-click", "double-click")} if flag == "heralding"
                                    else {"type": float})
            g.add_argument("--" + flag.replace("_", "-"), help=text, **kind)


def add_physics_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("physics overrides", "set a value on every quantum link / every node of the topology")
    _add_physics_flags(g, "links")
    g.add_argument("--preset", help="hardware preset for every node and link (see docs/hardware.md; 'ideal')")
    _add_physics_flags(g, "nodes")
    g.add_argument("--topology-seed", type=int, help="override the topology's seed")


def overridden(args: argparse.Namespace) -> bool:
    return any(getattr(args, k, None) is not None for k in (*PHYSICS_OVERRIDES, "topology_seed", "preset"))


def load(args: argparse.Namespace) -> Topology:
    """The topology named by --topology (or the embedded default), with any physics overrides applied."""
    from qemu_net.cli.cmd_topology import topology_argument
    from qemu_net.network.topology import with_overrides

    topology = topology_argument(getattr(args, "topology", None), getattr(args, "chain", None))
    if not overridden(args):
        return topology
    if getattr(args, "preset", None) is not None:
        topology = with_preset(topology, args.preset)
    sections: dict[str, dict[str, object]] = {"nodes": {}, "links": {}}
    for flag, (section, key) in PHYSICS_OVERRIDES.items():
        value = getattr(args, flag, None)
        if value is not None:
            sections[section][key] = value
    return with_overrides(topology, nodes=sections["nodes"], links=sections["links"],
                          seed=getattr(args, "topology_seed", None), source="command-line overrides")


def with_preset(topology: Topology, preset: str) -> Topology:
    """Every node and link of `topology` on hardware preset `preset`: the keys the preset defines take its
    values, every other key (names, lengths, addresses, ...) is kept."""
    from qemu_net.network.presets import PRESETS
    from qemu_net.network.topology import parse_topology

    data = topology.model_dump(mode="json")
    p = PRESETS.get(preset)
    for section, kind in (("nodes", "node"), ("links", "link")):
        keys = set(p.values_by_kind.get(kind, {})) if p is not None else set()
        data[section] = [{**{k: v for k, v in item.items() if k not in keys}, "preset": preset}
                         for item in data[section]]
    return parse_topology(data, source="--preset")


def read_state(name: str) -> dict[str, Any] | None:
    """The state file `qnet up` wrote for network `name`, or None if there is none."""
    from qemu_net.errors import QnetError

    p = state_path(name)
    if not p.exists():
        return None
    try:
        state = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise QnetError(f"cannot read the state file {p}: {exc} (remove it if no network is running)") from exc
    if not isinstance(state, dict):
        raise QnetError(f"the state file {p} is not a JSON object (remove it if no network is running)")
    return state


def write_state(name: str, state: dict[str, Any]) -> Path:
    """Write the state file of network `name` atomically (a reader never sees half of it)."""
    p = state_path(name)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(state, indent=2))
    os.replace(tmp, p)
    return p


def supervisor_record(state: dict[str, Any]) -> ProcessRecord:
    """The supervisor's process record in a state file (files from older versions hold only its pid)."""
    from qemu_net.node.launcher import ProcessRecord

    data = state.get("supervisor") or {"pid": state.get("supervisor_pid", 0)}
    return ProcessRecord.from_json(data, boot_id=state.get("boot_id"))


def node_records(state: dict[str, Any]) -> dict[str, ProcessRecord]:
    """node name -> its process record, for every node the state file lists with a pid."""
    from qemu_net.node.launcher import ProcessRecord

    nodes = state.get("nodes") or {}
    return {name: ProcessRecord.from_json(info, boot_id=state.get("boot_id"))
            for name, info in nodes.items() if isinstance(info, dict) and info.get("pid")}


def state_tls(state: dict[str, Any]) -> dict[str, Any]:
    """`Network.connect` keywords for the network a state file describes: its certificate directory, or
    plaintext for a network started with ``--insecure``."""
    if "tls_dir" not in state:
        return {}
    return {"tls_dir": state["tls_dir"]} if state["tls_dir"] else {"insecure": True}


def supervisor_running(state: dict[str, Any] | None) -> TypeGuard[dict[str, Any]]:
    """True if the state file's supervisor is alive (the very process recorded, not a reused pid)."""
    return state is not None and supervisor_record(state).running()


@contextlib.contextmanager
def network(topology: Topology, *, allow_inspect: bool = False, use_running: bool = True) -> Iterator[Network]:
    """Connect to the network `qnet up` started for this topology, or start a temporary local one."""
    from qemu_net.client import Network
    from qemu_net.network.topology import parse_topology
    from qemu_net.node.launcher import LocalNetwork

    if all(n.address for n in topology.nodes):
        with Network.connect(topology) as net:
            yield net
        return
    state = read_state(topology.name) if use_running else None
    if supervisor_running(state):
        running = parse_topology(state["topology"], source=str(state_path(topology.name)))
        with Network.connect(running, **state_tls(state)) as net:
            yield net
        return
    with LocalNetwork.start(topology, allow_inspect=allow_inspect) as local, Network.connect(local.topology) as net:
        yield net

