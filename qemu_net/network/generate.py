"""Regular topologies in one call: chains, rings, stars and grids (what `qnet topology KIND N` writes).

Nodes are named ``n0, n1, ...`` (grids: ``n<row>-<col>``); every quantum link gets the same
`link` settings (topology keys with units, e.g. ``length_km=5, source_fidelity=0.98``) and every
node the same `node` settings. A chain also gets an end-to-end classical link (as
`qemu_net.network.topology.chain_topology`), so its ends can talk directly.
"""

from __future__ import annotations

from typing import Any

from qemu_net.errors import TopologyError
from qemu_net.network.topology import Topology, parse_topology

KINDS = ("chain", "ring", "star", "grid")
#: Largest size a generator accepts (nodes for chain/ring/star, side for grid).
MAX_NODES = 1024


def _build(name: str, names: list[str], edges: list[tuple[str, str]], *, length_km: float,
           node: dict[str, Any], link: dict[str, Any], classical: list[tuple[str, str, float]], seed: int) -> Topology:
    data = {
        "name": name,
        "seed": seed,
        "nodes": [{"name": n, **node} for n in names],
        "links": [{"nodes": [a, b], "length_km": length_km, **link} for a, b in edges],
        "classical_links": [{"nodes": [a, b], "length_km": km} for a, b, km in classical],
    }
    return parse_topology(data, source=f"generated {name}")


def generate(kind: str, n: int, *, length_km: float = 1.0, name: str | None = None, seed: int = 0,
             node: dict[str, Any] | None = None, link: dict[str, Any] | None = None) -> Topology:
    """A `kind` topology of size `n` (nodes; for a grid, nodes per side)."""
    if kind not in KINDS:
        raise TopologyError(f"unknown topology kind {kind!r}; use one of {', '.join(KINDS)}")
    low = {"chain": 2, "ring": 3, "star": 2, "grid": 2}[kind]
    if not low <= n <= MAX_NODES or (kind == "grid" and n * n > MAX_NODES):
        raise TopologyError(f"{kind} size {n}: expected {low} to {MAX_NODES}"
                            f"{' nodes in all' if kind == 'grid' else ''}")
    if length_km < 0:
        raise TopologyError(f"length_km: {length_km} is negative")
    node, link = dict(node or {}), dict(link or {})
    name = name or f"{kind}{n}"
    classical: list[tuple[str, str, float]] = []
    if kind == "grid":
        names = [f"n{r}-{c}" for r in range(n) for c in range(n)]
        edges = [(f"n{r}-{c}", f"n{r}-{c + 1}") for r in range(n) for c in range(n - 1)]
        edges += [(f"n{r}-{c}", f"n{r + 1}-{c}") for r in range(n - 1) for c in range(n)]
    else:
        names = [f"n{i}" for i in range(n)]
        if kind == "chain":
            edges = [(names[i], names[i + 1]) for i in range(n - 1)]
            if n > 2:
                classical = [(names[0], names[-1], length_km * (n - 1))]
        elif kind == "ring":
            edges = [(names[i], names[(i + 1) % n]) for i in range(n)]
        else:  # star: n0 is the hub
            edges = [(names[0], names[i]) for i in range(1, n)]
    return _build(name, names, edges, length_km=length_km, node=node, link=link, classical=classical, seed=seed)


__all__ = ["KINDS", "MAX_NODES", "generate"]
