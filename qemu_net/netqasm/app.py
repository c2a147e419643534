"""NetQASM application directories, and running them with one process per role.

The layout is netqasm's (what ``netqasm simulate`` runs):

- ``app_<role>.py`` per role, each with ``main(app_config=None, **inputs)``;
- optional ``roles.yaml``: ``role: node`` (default: each role at a node named after it);
- optional ``network.yaml`` (netqasm's network configuration: nodes with qubits ``t1``/``t2`` in ns and
  ``gate_fidelity``, links with ``noise_type`` ``NoNoise`` or ``Depolarise`` and ``fidelity``), used when
  a temporary network is built and no qemu_net topology is given;
- optional ``<role>.yaml``: that role's inputs.

`run_app` starts every role as its own OS process (`qemu_net.netqasm.runner`) bound to its node's
address, waits for all of them (bounded by a deadline) and returns each role's return value.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import yaml

from qemu_net.errors import InvalidOperation, ProtocolTimeout, TopologyError
from qemu_net.network.topology import Topology, parse_topology

_ROLE_FILE = re.compile(r"^app_([A-Za-z0-9_]+)\.py$")
_NODE_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


@dataclass
class AppLayout:
    """An application directory: its roles, where they run, and their inputs."""

    path: Path
    roles: list[str]
    placement: dict[str, str]
    inputs: dict[str, dict[str, Any]]
    network: dict[str, Any] | None = None

    @property
    def nodes(self) -> list[str]:
        return sorted(set(self.placement.values()))


def _yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise InvalidOperation(f"{path}: not valid YAML: {exc}") from None


def load_layout(path: str | os.PathLike[str], *, inputs: Mapping[str, Mapping[str, Any]] | None = None,
                roles_map: Mapping[str, str] | None = None) -> AppLayout:
    """Read an application directory; `inputs` / `roles_map` override the directory's files per role."""
    p = Path(path)
    if not p.is_dir():
        raise InvalidOperation(f"{p}: not an application directory")
    roles = sorted(m.group(1) for f in p.iterdir() if (m := _ROLE_FILE.match(f.name)))
    if not roles:
        raise InvalidOperation(f"{p}: no app_<role>.py files")
    placement = {r: r for r in roles}
    if (p / "roles.yaml").exists():
        data = _yaml(p / "roles.yaml") or {}
        if not isinstance(data, dict):
            raise InvalidOperation(f"{p / 'roles.yaml'}: expected a mapping role: node")
        for role, node in data.items():
            if role in placement:
                placement[role] = str(node)
    for role, node in (roles_map or {}).items():
        if role not in placement:
            raise InvalidOperation(f"unknown role {role!r}; roles: {', '.join(roles)}")
        placement[role] = node
    for role, node in placement.items():
        if not _NODE_NAME.match(node):
            raise InvalidOperation(f"role {role!r} is placed at {node!r}, which is not a valid node name "
                                   "(lower-case letters, digits and '-'): map it with roles.yaml or --role")
    role_inputs: dict[str, dict[str, Any]] = {}
    for role in roles:
        f = p / f"{role}.yaml"
        data = _yaml(f) if f.exists() else None
        if data is not None and not isinstance(data, dict):
            raise InvalidOperation(f"{f}: expected a mapping of input names to values")
        role_inputs[role] = dict(data or {})
        role_inputs[role].update((inputs or {}).get(role, {}))
    network = _yaml(p / "network.yaml") if (p / "network.yaml").exists() else None
    return AppLayout(p, roles, placement, role_inputs, network)


def temporary_topology(layout: AppLayout, *, seed: int = 0) -> Topology:
    """A fully connected topology of the application's nodes, from network.yaml when it has one."""
    nodes: dict[str, dict[str, Any]] = {n: {"name": n, "memory_qubits": 64} for n in layout.nodes}
    links: dict[frozenset[str], dict[str, Any]] = {}
    names = layout.nodes
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            links[frozenset((a, b))] = {"nodes": [a, b], "length_km": 0.0, "misalignment_error": 0.0}
    net = layout.network or {}
    for i, nd in enumerate(net.get("nodes") or []):
        where = f"network.yaml nodes[{i}]"
        name = nd.get("name")
        if name not in nodes:
            continue
        qubits = nd.get("qubits") or []
        if qubits:
            nodes[name]["memory_qubits"] = max(len(qubits), 1)
            t1 = {float(q.get("t1", 0) or 0) for q in qubits}
            t2 = {float(q.get("t2", 0) or 0) for q in qubits}
            if len(t1) > 1 or len(t2) > 1:
                raise TopologyError(f"{where}.qubits: this emulator gives all qubits of a node one T1 and one T2")
            (t1v,), (t2v,) = t1, t2
            if t1v > 0:
                nodes[name]["t1_s"] = t1v * 1e-9
            if t2v > 0:
                nodes[name]["t2_s"] = t2v * 1e-9
        fid = float(nd.get("gate_fidelity", 1.0))
        if not 0 <= fid <= 1:
            raise TopologyError(f"{where}.gate_fidelity: {fid} is not a probability")
        # A depolarising gate error of probability p leaves fidelity 1 - 2p/3 (single qubit, Cirq's p).
        nodes[name]["gate_1q_error"] = 1.5 * (1 - fid)
        nodes[name]["gate_2q_error"] = 1.5 * (1 - fid)
    for i, ln in enumerate(net.get("links") or []):
        where = f"network.yaml links[{i}]"
        key = frozenset((ln.get("node_name1"), ln.get("node_name2")))
        if key not in links:
            continue
        noise = str(ln.get("noise_type", "NoNoise"))
        fid = float(ln.get("fidelity", 1.0))
        if noise == "NoNoise":
            continue
        if noise not in ("Depolarise", "DiscreteDepolarise"):
            raise TopologyError(f"{where}.noise_type: {noise!r} is not offered (NoNoise, Depolarise)")
        links[key]["source_fidelity"] = fid
    return parse_topology({"name": "netqasm-app", "nodes": list(nodes.values()), "links": list(links.values()),
                           "seed": seed}, source="network.yaml")


@dataclass
class RoleResult:
    role: str
    node: str
    ok: bool
    result: Any = None
    error: str = ""
    stdout: str = ""
    stderr: str = ""
    wall_s: float = 0.0
    #: Time the role's process spent from loading the application to its return (no interpreter start-up).
    main_s: float = 0.0


@dataclass
class AppRun:
    app: str
    roles: dict[str, RoleResult] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.roles.values())

    def results(self) -> dict[str, Any]:
        return {r: rr.result for r, rr in self.roles.items()}

    def to_json(self) -> dict[str, Any]:
        return {"app": self.app, "ok": self.ok,
                "roles": {r: {"node": rr.node, "ok": rr.ok, "result": rr.result, "error": rr.error,
                              "wall_s": round(rr.wall_s, 3)} for r, rr in self.roles.items()}}


def run_app(layout: AppLayout, addresses: Mapping[str, str], *, timeout_s: float = 120.0,
            python: str | None = None, log_dir: str | os.PathLike[str] | None = None, rounds: int | None = None,
            seed: int | None = 0, network: str | None = None) -> AppRun:
    """Run every role in its own process against the nodes at `addresses`; bounded by `timeout_s`.

    Each role process connects with the TLS credentials the SDK picks for these addresses (of the network
    named `network`, see `qemu_net.client.credentials.resolve`), or in plaintext where the network has none.

    With `rounds`, each role process runs the application that many times in a row (as
    ``netqasm simulate --num-rounds``) and its result is the list of the rounds' return values. `seed`
    seeds each role's own random choices (Python's `random` and numpy's global generator)."""
    if rounds is not None and not 1 <= rounds <= 100_000:
        raise InvalidOperation(f"rounds must be 1 to 100000, got {rounds}")
    missing = [n for n in layout.nodes if n not in addresses]
    if missing:
        raise InvalidOperation(f"the network has no node(s) {', '.join(missing)} "
                               f"(nodes: {', '.join(sorted(addresses))}); place roles with roles.yaml or --role")
    from qemu_net.client.credentials import resolve

    creds = resolve(dict(addresses), network=network)
    deadline = time.monotonic() + timeout_s
    run = AppRun(layout.path.name)
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parent.parent.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    with tempfile.TemporaryDirectory(prefix="qnet-app-") as tmp:
        procs: dict[str, tuple[subprocess.Popen[bytes], Path, IO[str], IO[str], float]] = {}
        try:
            for role in layout.roles:
                result_file = Path(tmp) / f"{role}.result.json"
                spec = {"app_dir": str(layout.path.resolve()), "role": role, "roles": layout.placement,
                        "addresses": dict(addresses), "inputs": layout.inputs.get(role, {}),
                        "tls_dir": creds.source if creds is not None else None,
                        "tls_identity": creds.name if creds is not None else None,
                        "timeout_s": timeout_s, "result_file": str(result_file),
                        "log_dir": str(Path(log_dir) if log_dir else Path(tmp) / "log"),
                        "rounds": rounds, "seed": seed}
                spec_file = Path(tmp) / f"{role}.spec.json"
                spec_file.write_text(json.dumps(spec))
                out: IO[str] = open(Path(tmp) / f"{role}.stdout", "w+")  # noqa: SIM115 - closed below
                err: IO[str] = open(Path(tmp) / f"{role}.stderr", "w+")  # noqa: SIM115
                proc = subprocess.Popen([python or sys.executable, "-m", "qemu_net.netqasm.runner", str(spec_file)],
                                        stdout=out, stderr=err, env=env, cwd=str(layout.path))
                procs[role] = (proc, result_file, out, err, time.monotonic())
            for proc, *_files in procs.values():
                left = max(deadline - time.monotonic(), 0.0)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=left)
            timed_out = [r for r, (p, *_rest) in procs.items() if p.poll() is None]
        finally:
            for proc, *_rest in procs.values():
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(timeout=10)
        for role, (proc, result_file, out, err, t0) in procs.items():
            out.seek(0)
            err.seek(0)
            rr = RoleResult(role, layout.placement[role], False, stdout=out.read(), stderr=err.read(),
                            wall_s=time.monotonic() - t0)
            out.close()
            err.close()
            if role in timed_out:
                rr.error = f"did not finish within {timeout_s} s"
            elif result_file.exists():
                data = json.loads(result_file.read_text())
                rr.ok = bool(data.get("ok"))
                rr.result = data.get("result")
                rr.error = data.get("error", "")
                rr.main_s = float(data.get("main_s", 0.0))
                if not rr.ok and data.get("traceback"):
                    rr.stderr += data["traceback"]
            else:
                rr.error = f"exited with status {proc.returncode} without a result"
            run.roles[role] = rr
    if timed_out and all(r in timed_out for r in layout.roles):
        raise ProtocolTimeout(f"no role of {layout.path.name} finished within {timeout_s} s")
    return run


def run_app_on_temporary_network(layout: AppLayout, *, topology: Topology | None = None, timeout_s: float = 120.0,
                                 seed: int = 0, log_dir: str | os.PathLike[str] | None = None,
                                 rounds: int | None = None) -> AppRun:
    """Start the application's nodes (every node its own process), run it, stop them."""
    from qemu_net.node.launcher import LocalNetwork

    topo = topology if topology is not None else temporary_topology(layout, seed=seed)
    local = LocalNetwork.start(topo, allow_inspect=True)
    try:
        return run_app(layout, local.addresses, timeout_s=timeout_s, log_dir=log_dir, rounds=rounds, seed=seed)
    finally:
        local.stop()
