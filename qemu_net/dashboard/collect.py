"""What the dashboard shows, read from the running nodes themselves (no second source of truth).

Per node: its ``GetInfo`` RPC (memory in use, capacity, groups held, virtual clock) and, where the node
serves Prometheus metrics (``qnet node --metrics-port``, or every node of ``qnet up``), its
``/metrics`` (RPCs served, EPR pairs generated per peer). Per quantum link: the EPR pairs both ends
report in their metrics, the key pool from the node's key-delivery ``GetStatus``, and the link's
modelled physics from the topology (labelled as the model, not as a measurement).

Every read has a deadline (`probe_timeout_s`); a node that does not answer is shown as down with the
reason, and the rest of the network is still shown.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from qemu_net.client.sync import Network
from qemu_net.errors import QnetError
from qemu_net.network.topology import Topology

#: Deadline of each read the dashboard makes of a node (RPC or metrics scrape).
PROBE_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class NodeMetrics:
    """The parts of a node's Prometheus metrics the dashboard shows."""

    rpcs_total: int
    rpc_errors: int
    #: peer -> EPR pairs this node generated as the source end (kept + measured)
    epr_pairs: dict[str, int] = field(default_factory=dict)
    #: peer -> generation attempts those pairs took
    epr_attempts: dict[str, int] = field(default_factory=dict)
    #: peer -> Bell fidelity of the pairs this node delivers to it
    delivered_fidelity: dict[str, float] = field(default_factory=dict)


def parse_metrics(text: str) -> NodeMetrics:
    """Read RPC counts, EPR pairs, attempts and delivered fidelity out of a node's /metrics text."""
    rpcs = errors = 0
    epr: dict[str, int] = {}
    attempts: dict[str, int] = {}
    fidelity: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "qnet_rpcs_total":
                rpcs += int(s.value)
                if s.labels.get("code") != "OK":
                    errors += int(s.value)
            elif s.name == "qnet_epr_pairs_total":
                peer = s.labels.get("peer", "")
                epr[peer] = epr.get(peer, 0) + int(s.value)
            elif s.name == "qnet_epr_attempts_total":
                attempts[s.labels.get("peer", "")] = int(s.value)
            elif s.name == "qnet_epr_delivered_fidelity":
                fidelity[s.labels.get("peer", "")] = float(s.value)
    return NodeMetrics(rpcs, errors, epr, attempts, fidelity)


def scrape(address: str, timeout_s: float = PROBE_TIMEOUT_S) -> NodeMetrics:
    url = address if address.startswith("http") else f"http://{address}/metrics"
    with urllib.request.urlopen(url, timeout=timeout_s) as resp:
        return parse_metrics(resp.read().decode())


def graph_layout(topology: Topology) -> dict[str, list[float]]:
    """Node positions in [0, 1]^2 for the page's graph: a line for chains, else a seeded spring layout."""
    import networkx as nx

    g: nx.Graph[str] = nx.Graph()
    g.add_nodes_from(topology.node_names)
    g.add_edges_from(lk.nodes for lk in topology.links)
    degrees = [d for _, d in g.degree()]
    n = len(topology.node_names)
    if n == 1:
        return {topology.node_names[0]: [0.5, 0.5]}
    if n > 2 and nx.is_connected(g) and g.number_of_edges() == n - 1 and max(degrees) <= 2:
        ends = [v for v, d in g.degree() if d == 1]
        order = nx.shortest_path(g, ends[0], ends[1])
        cols = min(n, 8)
        pos = {}
        for i, v in enumerate(order):  # a snake, so long chains stay readable
            row, col = divmod(i, cols)
            col = col if row % 2 == 0 else cols - 1 - col
            rows = (n + cols - 1) // cols
            pos[v] = [0.06 + 0.88 * col / max(cols - 1, 1), 0.5 if rows == 1 else 0.1 + 0.8 * row / (rows - 1)]
        return pos
    raw = nx.spring_layout(g, seed=1)
    xs = [p[0] for p in raw.values()]
    ys = [p[1] for p in raw.values()]
    span_x = (max(xs) - min(xs)) or 1.0
    span_y = (max(ys) - min(ys)) or 1.0
    return {v: [0.08 + 0.84 * (p[0] - min(xs)) / span_x, 0.1 + 0.8 * (p[1] - min(ys)) / span_y]
            for v, p in raw.items()}


def link_id(a: str, b: str) -> str:
    return "--".join(sorted((a, b)))


def modelled_link(topology: Topology, a: str, b: str) -> dict[str, Any]:
    """The physics the topology gives a quantum link (presets and overrides already resolved)."""
    from qemu_net.network import physics
    from qemu_net.protocols.routing import link_fidelity

    link = topology.link(a, b)
    assert link is not None
    return {
        "length_km": link.length_km,
        "attenuation_db_per_km": link.attenuation_db_per_km,
        "source_fidelity": link.source_fidelity,
        "transmissivity": physics.photon_survival_probability(link),
        "herald_probability": physics.herald_probability(link),
        "expected_fidelity": link_fidelity(topology, link),
        "latency_ns": link.latency_ns,
    }


class Collector:
    """Reads the live state of a network through the SDK and the nodes' metrics endpoints."""

    def __init__(self, net: Network, topology: Topology, *, metrics: Mapping[str, str] | None = None,
                 probe_timeout_s: float = PROBE_TIMEOUT_S) -> None:
        self.net = net
        self.topology = topology
        self.metrics = dict(metrics or {})
        self.probe_timeout_s = probe_timeout_s
        n = len(topology.nodes)
        self.layout = graph_layout(topology)
        self._pool = ThreadPoolExecutor(max_workers=min(16, 2 * n + len(topology.links)),
                                        thread_name_prefix="dash-probe")
        #: link -> (time, stored bits) of the previous reading, for the key pool's rate of change.
        self._last_pool: dict[str, tuple[float, int]] = {}
        self._pool_lock = threading.Lock()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------------------------ reads
    def _node(self, name: str) -> dict[str, Any]:
        node = self.net[name]
        out: dict[str, Any] = {"name": name, "address": node.address, "metrics_address": self.metrics.get(name, "")}
        try:
            info = node.info(timeout_s=self.probe_timeout_s)
            out.update(status="up", qubits_in_use=info.qubits_in_use, memory_qubits=info.memory_qubits,
                       groups_held=info.groups_held, virtual_time_ns=info.virtual_time_ns)
        except QnetError as exc:
            out.update(status="down", error=str(exc))
        addr = self.metrics.get(name)
        if addr:
            try:
                m = scrape(addr, self.probe_timeout_s)
                out["metrics"] = {"rpcs_total": m.rpcs_total, "rpc_errors": m.rpc_errors, "epr_pairs": m.epr_pairs,
                                  "epr_attempts": m.epr_attempts, "delivered_fidelity": m.delivered_fidelity}
            except (OSError, urllib.error.URLError, ValueError) as exc:
                out["metrics_error"] = f"{type(exc).__name__}: {exc}"
        return out

    def _keys(self, a: str, b: str) -> dict[str, Any]:
        from qemu_net.client.qkd import key_status

        try:
            st = key_status(self.net[a], b, timeout_s=self.probe_timeout_s)
        except QnetError as exc:
            return {"error": str(exc)}
        return {"stored_bits": st.stored_bits, "stored_sessions": st.stored_sessions,
                "stored_key_count": st.stored_key_count}

    def _pool_rate(self, link: str, t: float, bits: int) -> float | None:
        """How fast the link's key pool changed since the previous reading (bits per wall second; negative
        while keys are taken faster than made); None on the first reading."""
        with self._pool_lock:
            prev = self._last_pool.get(link)
            self._last_pool[link] = (t, bits)
        if prev is None or t <= prev[0]:
            return None
        return (bits - prev[1]) / (t - prev[0])

    def state(self) -> dict[str, Any]:
        """One snapshot: nodes, quantum links, classical links (all read now, concurrently)."""
        t0 = time.time()
        topo = self.topology
        node_f = {n: self._pool.submit(self._node, n) for n in topo.node_names}
        key_f = {link_id(*lk.nodes): self._pool.submit(self._keys, *lk.nodes) for lk in topo.links}
        nodes = [node_f[n].result() for n in topo.node_names]
        by_name = {n["name"]: n for n in nodes}
        links = []
        for lk in topo.links:
            a, b = lk.nodes
            lid = link_id(a, b)
            epr = attempts = None
            fidelity: float | None = None
            ends = [by_name[a].get("metrics"), by_name[b].get("metrics")]
            if any(e is not None for e in ends):
                # Each node counts the pairs it generated as the source end; a link's total is both ends' sum.
                present = [(e, peer) for e, peer in zip(ends, (b, a), strict=True) if e is not None]
                epr = sum(e["epr_pairs"].get(peer, 0) for e, peer in present)
                attempts = sum(e["epr_attempts"].get(peer, 0) for e, peer in present)
                # The delivered fidelity as the generating end(s) report it (weighted by pairs made).
                made = [(e["delivered_fidelity"][peer], e["epr_pairs"].get(peer, 0)) for e, peer in present
                        if peer in e["delivered_fidelity"]]
                weight = sum(n for _, n in made)
                if made:
                    fidelity = sum(f * n for f, n in made) / weight if weight else made[0][0]
            keys = key_f[lid].result()
            if "stored_bits" in keys:
                keys["pool_rate_bits_per_s"] = self._pool_rate(lid, t0, keys["stored_bits"])
            links.append({"id": lid, "nodes": [a, b], "kind": "quantum", "epr_pairs": epr,
                          "epr_attempts": attempts, "delivered_fidelity": fidelity,
                          "epr_complete": all(e is not None for e in ends), "keys": keys,
                          "model": modelled_link(topo, a, b)})
        classical = [{"id": link_id(*c.nodes), "nodes": list(c.nodes), "kind": "classical",
                      "length_km": c.length_km, "latency_ns": c.effective_latency_ns} for c in topo.classical_links]
        return {"network": topo.name, "time": t0, "nodes": nodes, "links": links, "classical_links": classical,
                "layout": self.layout}
