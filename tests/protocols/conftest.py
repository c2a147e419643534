"""Networks of real node processes shared by the protocol-suite tests (started once for the package).

Most tests use `lab_net`: several small components, each with the link fidelities one test needs, plus
a ``lab`` node joined by ideal fibers to every node whose qubits a test gathers. Sending a qubit over a
link without transmission noise leaves its state unchanged, so a test can move the halves of a
delivered pair to ``lab`` and read the exact two-qubit density matrix there (Inspect needs the qubits
at one node).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import numpy as np
import pytest

from qemu_net.client import Network
from qemu_net.node.launcher import LocalNetwork
from qemu_net.network.topology import Topology, parse_topology

PHI_PLUS = np.array([1, 0, 0, 1], dtype=complex) / np.sqrt(2)

#: (F1, F2) of the three swap test components s{k}0 -- s{k}1 -- s{k}2.
SWAP_POINTS = [(0.9, 0.8), (0.97, 0.7), (0.85, 0.85)]
CHAIN_F = 0.93          # c0 -- c1 -- ... -- c5
CHAIN_LINKS = 5


def lab_topology() -> Topology:
    nodes: list[str] = ["lab"]
    links: list[dict] = []
    classical: list[list[str]] = []
    to_lab: list[str] = []

    def link(a: str, b: str, **kw: object) -> None:
        links.append({"nodes": [a, b], **kw})

    for k, (f1, f2) in enumerate(SWAP_POINTS):
        a, m, b = f"s{k}a", f"s{k}m", f"s{k}b"
        nodes += [a, m, b]
        link(a, m, source_fidelity=f1)
        link(m, b, source_fidelity=f2)
        to_lab += [a, b]
    cs = [f"c{i}" for i in range(CHAIN_LINKS + 1)]
    nodes += cs
    for x, y in zip(cs, cs[1:]):
        link(x, y, source_fidelity=CHAIN_F, length_km=2)
    to_lab += cs
    # Purification pairs: Werner 0.8, dephased 0.75, hopeless 0.3.
    for name, kw in (("u", {"source_fidelity": 0.8}), ("v", {"source_fidelity": 0.75, "source_model": "dephased"}),
                     ("w", {"source_fidelity": 0.3})):
        nodes += [f"{name}0", f"{name}1"]
        link(f"{name}0", f"{name}1", **kw)
    # GHZ: g0 -- g1 -- g2, g1 -- g3 (ideal).
    nodes += ["g0", "g1", "g2", "g3"]
    link("g0", "g1"); link("g1", "g2"); link("g1", "g3")
    to_lab += ["g0", "g1", "g2", "g3"]
    # Superdense / nonlocal gates: ideal x0 -- x1, Werner y0 -- y1.
    nodes += ["x0", "x1", "y0", "y1"]
    link("x0", "x1"); link("y0", "y1", source_fidelity=0.8)
    to_lab += ["y0", "y1"]
    # Memory decay: d0 -- d1 -- d2 over 20 km fibers, T2 = 0.5 ms.
    for i in range(3):
        nodes.append({"name": f"d{i}", "t1_s": 0.01, "t2_s": 0.0005})
    link("d0", "d1", length_km=20); link("d1", "d2", length_km=20)
    to_lab += ["d0", "d2"]
    # Routing: r0 -- r1 -- r2 good, r0 -- r2 direct but poor; r3 an island.
    nodes += ["r0", "r1", "r2", "r3"]
    link("r0", "r1", source_fidelity=0.99); link("r1", "r2", source_fidelity=0.99)
    link("r0", "r2", source_fidelity=0.8)
    # Entanglement service: e0 -- e1 -- e2 -- e3 (Werner 0.93); their lab fibers carry poor pairs (0.26)
    # so that routing by fidelity never goes through the lab (sending a qubit over them is noiseless).
    es = [f"e{i}" for i in range(4)]
    nodes += es
    for x, y in zip(es, es[1:]):
        link(x, y, source_fidelity=CHAIN_F)
    for x in (es[0], es[-1]):
        link(x, "lab", source_fidelity=0.26)
    # Distributed circuits: k0..k3 fully connected by ideal fibers.
    ks = [f"k{i}" for i in range(4)]
    nodes += ks
    for i in range(4):
        for j in range(i + 1, 4):
            link(ks[i], ks[j])
    to_lab += ks
    for n in to_lab:
        link(n, "lab")
    return parse_topology({"name": "protocols", "nodes": nodes, "links": links, "classical_links": classical,
                           "seed": 7})


@contextlib.contextmanager
def running(topology: Topology) -> Iterator[Network]:
    local = LocalNetwork.start(topology, allow_inspect=True)
    try:
        with Network.connect(local.topology, timeout_s=60) as net:
            yield net
    finally:
        local.stop()


@pytest.fixture(scope="package")
def lab_net() -> Iterator[Network]:
    with running(lab_topology()) as net:
        yield net


def gather(net: Network, qubits: Sequence, lab: str = "lab") -> np.ndarray:
    """Move qubits to `lab` over ideal fibers, return their joint density matrix there, free them."""
    moved = []
    for q in qubits:
        if q.node.name == lab:
            moved.append(q)
            continue
        r = q.send(lab)
        assert r is not None, "a qubit was lost on an ideal fiber"
        moved.append(r)
    rho = net[lab].inspect(moved)
    net[lab].free(moved)
    return rho


def fidelity(rho: np.ndarray, psi: np.ndarray = PHI_PLUS) -> float:
    return float(np.real(psi.conj() @ rho @ psi))


def bell_coefficients(rho: np.ndarray) -> tuple[float, float, float, float]:
    """Coefficients on (Phi+, Psi-, Psi+, Phi-)."""
    s = np.sqrt(2)
    basis = [np.array([1, 0, 0, 1]) / s, np.array([0, 1, -1, 0]) / s, np.array([0, 1, 1, 0]) / s,
             np.array([1, 0, 0, -1]) / s]
    return tuple(float(np.real(b @ rho @ b)) for b in basis)  # type: ignore[return-value]
