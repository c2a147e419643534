"""Network planning: for every pair of nodes, what the topology's links can deliver (closed forms only,
no node process involved). `qnet plan` prints and plots this.

For a pair (a, b):

* **path**: the path of quantum links with the least total loss, sum over links of
  ``-10 log10(eta_i)`` dB with ``eta_i = 10^(-alpha L / 10) eta_det`` (networkx Dijkstra);
* **secret key rate** (decoy BB84, asymptotic GLLP with infinitely many decoys, Lo-Ma-Chen 2005;
  `qemu_net.qkd.theory.gllp_key_rate` with Y0 = 1 - (1 - d)^2, e_d = misalignment, mu, f): per link
  ``R_i`` bits per pulse; **direct** = R over the a--b link if there is one; **via trusted relays** along
  the path = ``min_i R_i`` (each link makes key, every relay XORs);
* **entanglement without purification**: link pair rate ``r_i = p_herald / period`` pairs per second
  (`qemu_net.network.physics`), the chain's rate its bottleneck ``min_i r_i`` (every link generating in
  parallel, memories waiting; an upper bound), its fidelity that of swapping Werner pairs,
  ``1/4 + 3/4 prod_i (4 F_i - 1)/3`` (`swap.chain_fidelity`);
* **with purification**: the fewest nested rounds r of the method (DEJMPS by default) reaching
  `target_fidelity` from that Werner pair (`purify.nested`): fidelity F_r, success probability p_r, rate
  ``min_i r_i p_r / 2^r``; None where the target cannot be reached;
* **PLOB bounds** (Pirandola et al. 2017): the repeaterless bound of a single channel with the path's
  total transmissivity, ``-log2(1 - prod_i eta_i)`` bits per use, and the repeater-chain capacity
  ``min_i -log2(1 - eta_i)``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass
from typing import Any

import networkx as nx

from qemu_net.errors import InvalidOperation
from qemu_net.network import physics
from qemu_net.network.topology import LinkSpec, Topology
from qemu_net.protocols.purify import Method, nested
from qemu_net.protocols.swap import chain_fidelity
from qemu_net.qkd.theory import gllp_key_rate, plob_bound

MAX_ROUNDS = 5


@dataclass(frozen=True)
class PairPlan:
    a: str
    b: str
    path: tuple[str, ...]
    loss_db: float
    direct_key_rate_per_pulse: float | None
    relay_key_rate_per_pulse: float
    key_rate_per_s: float
    entanglement_rate_hz: float
    entanglement_fidelity: float
    purification_rounds: int | None
    purified_fidelity: float | None
    purified_rate_hz: float | None
    plob_repeaterless: float
    plob_repeater_chain: float

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["path"] = list(self.path)
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


def link_loss_db(link: LinkSpec) -> float:
    return -10 * math.log10(link.transmissivity) if link.transmissivity > 0 else math.inf


def link_key_rate(link: LinkSpec, *, mu: float = 0.5, f_ec: float = 1.16) -> float:
    """Decoy BB84 (infinite decoys) secret bits per pulse over this link."""
    y0 = 1 - (1 - link.dark_count_probability) ** 2
    return gllp_key_rate(link.transmissivity, y0, link.misalignment_error, mu, f_ec, 0.5)


def link_pair_rate_hz(topology: Topology, link: LinkSpec) -> float:
    a, b = link.nodes
    m = physics.EprLinkModel.from_specs(link, topology.node(a), topology.node(b))
    per_pair_ns = (1 / m.p_herald + m.dead_attempts) * m.period_ns if m.p_herald > 0 else math.inf
    return 1e9 / per_pair_ns


def loss_graph(topology: Topology) -> nx.Graph[str]:
    g: nx.Graph[str] = nx.Graph()
    g.add_nodes_from(topology.node_names)
    for link in topology.links:
        g.add_edge(*link.nodes, weight=link_loss_db(link))
    return g


def plan_pair(topology: Topology, a: str, b: str, *, graph: nx.Graph[str] | None = None, mu: float = 0.5,
              f_ec: float = 1.16, pulse_rate_hz: float = 1e9, target_fidelity: float = 0.95,
              method: Method = Method.DEJMPS) -> PairPlan | None:
    """The plan for one pair; None if no path of quantum links joins them."""
    g = graph if graph is not None else loss_graph(topology)
    try:
        path = nx.dijkstra_path(g, a, b, weight="weight")
    except nx.NetworkXNoPath:
        return None
    links: list[LinkSpec] = []
    for u, v in itertools.pairwise(path):
        link = topology.link(u, v)
        assert link is not None  # consecutive nodes of a shortest path in the loss graph share a link
        links.append(link)
    etas = [link.transmissivity for link in links]
    rates = [link_key_rate(link, mu=mu, f_ec=f_ec) for link in links]
    direct = topology.link(a, b)
    relay = min(rates)
    pair_rates = [link_pair_rate_hz(topology, link) for link in links]
    fids = [physics.EprLinkModel.from_specs(link, topology.node(link.nodes[0]), topology.node(link.nodes[1])).fidelity
            for link in links]
    f_chain = chain_fidelity(fids)
    bottleneck = min(pair_rates)
    rounds = f_pur = r_pur = None
    werner = (f_chain, (1 - f_chain) / 3, (1 - f_chain) / 3, (1 - f_chain) / 3)
    for r in range(MAX_ROUNDS + 1):
        p, f = nested(method, werner, r) if r else (1.0, f_chain)
        if f >= target_fidelity - 1e-12:
            rounds, f_pur, r_pur = r, f, bottleneck * p / 2**r
            break
    eta_path = math.prod(etas)
    return PairPlan(
        a, b, tuple(path), sum(link_loss_db(link) for link in links),
        link_key_rate(direct, mu=mu, f_ec=f_ec) if direct is not None else None,
        relay, (link_key_rate(direct, mu=mu, f_ec=f_ec) if len(path) == 2 and direct is not None else relay)
        * pulse_rate_hz,
        bottleneck, f_chain, rounds, f_pur, r_pur,
        float(plob_bound(eta_path)), min(float(plob_bound(e)) for e in etas),
    )


def plan_network(topology: Topology, **kw: Any) -> list[PairPlan]:
    """Every unordered pair of nodes in topology order that a path of quantum links joins."""
    if len(topology.nodes) < 2:
        raise InvalidOperation("planning needs at least two nodes")
    g = loss_graph(topology)
    out = []
    names = topology.node_names
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            p = plan_pair(topology, a, b, graph=g, **kw)
            if p is not None:
                out.append(p)
    return out


def plot_plan(plans: list[PairPlan], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{p.a}-{p.b}" for p in plans]
    x = range(len(plans))
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(max(6, 0.5 * len(plans)), 6), sharex=True)
    ax1.semilogy(x, [max(p.relay_key_rate_per_pulse, 1e-12) for p in plans], "o", label="key rate (relays)")
    ax1.semilogy(x, [max(p.plob_repeaterless, 1e-12) for p in plans], "_", markersize=14,
                 label="PLOB repeaterless")
    ax1.set_ylabel("bits per pulse / channel use")
    ax1.legend(fontsize=7)
    ax2.plot(x, [p.entanglement_fidelity for p in plans], "o", label="chain fidelity")
    ax2.plot(x, [p.purified_fidelity if p.purified_fidelity is not None else float("nan") for p in plans], "s",
             mfc="none", label="purified")
    ax2.set_ylabel("fidelity")
    ax2.legend(fontsize=7)
    ax2.set_xticks(list(x), labels, rotation=60, fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


__all__ = ["PairPlan", "link_key_rate", "link_loss_db", "link_pair_rate_hz", "loss_graph", "plan_network",
           "plan_pair", "plot_plan"]
