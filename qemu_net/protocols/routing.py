"""Routing over a topology's fiber links, and planning an entanglement request.

The graph has one edge per quantum link. Costs:

* ``hops`` -- every link costs 1 (fewest swaps);
* ``fidelity`` -- a link costs -log w with w = (4F - 1)/3 its Werner parameter, F the fidelity of the
  pair the link delivers (source, transmission noise, false heralds and the herald wait in memory,
  from `qemu_net.network.physics`). Swapping multiplies Werner parameters, so the cheapest path is the
  one with the highest expected end-to-end fidelity 1/4 + 3/4 prod w.

`plan_request` then decides how many nested purification rounds reach a target fidelity with the
chosen method, assuming Werner links and no memory decay while pairs wait (the estimate; the delivered
state is whatever the physics gives).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import networkx as nx

from qemu_net.errors import InvalidOperation, NotConnected
from qemu_net.network.topology import LinkSpec, Topology
from qemu_net.protocols.purify import Method, nested
from qemu_net.protocols.results import check_count, check_probability, result_eq, result_hash, result_repr
from qemu_net.protocols.swap import chain_fidelity
from qemu_net.vocab import RoutingCost

#: The routing costs, by their YAML/CLI spelling.
COSTS = tuple(c.value for c in RoutingCost)
MAX_PLAN_ROUNDS = 5


def link_fidelity(topology: Topology, link: LinkSpec) -> float:
    """Fidelity with |Phi+> of a pair delivered by this link."""
    from qemu_net.network import physics

    a, b = link.nodes
    model = physics.EprLinkModel.from_specs(link, topology.node(a), topology.node(b))
    return float(model.fidelity)


def routing_cost(cost: RoutingCost | str) -> RoutingCost:
    """`cost` as a `RoutingCost` (its spelling accepted); INVALID_ARGUMENT naming the known costs otherwise."""
    try:
        return RoutingCost(cost)
    except ValueError:
        raise InvalidOperation(f"unknown routing cost {cost!r}; use one of {', '.join(COSTS)}", parameter="cost",
                               value=str(cost)) from None


def graph(topology: Topology, cost: RoutingCost | str = RoutingCost.HOPS) -> nx.Graph[str]:
    """The fiber links as a weighted graph (edge attributes ``weight`` and ``fidelity``)."""
    cost = routing_cost(cost)
    g: nx.Graph[str] = nx.Graph()
    g.add_nodes_from(topology.node_names)
    for link in topology.links:
        f = link_fidelity(topology, link)
        w = (4 * f - 1) / 3
        weight = 1.0 if cost == RoutingCost.HOPS else (-math.log(w) if w > 0 else math.inf)
        g.add_edge(*link.nodes, weight=weight, fidelity=f)
    return g


def route(topology: Topology, a: str, b: str, cost: RoutingCost | str = RoutingCost.HOPS) -> list[str]:
    """The cheapest path of fiber links from a to b; NotConnected if there is none."""
    for n in (a, b):
        topology.require_node(n)
    if a == b:
        raise InvalidOperation("a pair needs two different nodes")
    g = graph(topology, cost)
    usable = nx.subgraph_view(g, filter_edge=lambda u, v: math.isfinite(g.edges[u, v]["weight"]))
    try:
        return list(nx.shortest_path(usable, a, b, weight="weight"))
    except nx.NetworkXNoPath:
        raise NotConnected(f"no path of quantum links from {a!r} to {b!r}", peer=b, reason="no_path") from None


def path_fidelities(topology: Topology, path: list[str]) -> list[float]:
    out = []
    for u, v in itertools.pairwise(path):
        link = topology.link(u, v)
        if link is None:
            raise NotConnected(f"no quantum link between {u!r} and {v!r}", peer=v)
        out.append(link_fidelity(topology, link))
    return out


@dataclass(frozen=True, eq=False, repr=False)
class Plan:
    """How a request for a pair of fidelity >= target is served."""

    path: tuple[str, ...]
    link_fidelities: tuple[float, ...]
    delivered_fidelity: float  # expected end-to-end fidelity before purification
    method: Method
    rounds: int                # nested purification rounds (0: none)
    expected_fidelity: float
    success_probability: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", tuple(self.path))
        object.__setattr__(self, "link_fidelities", tuple(self.link_fidelities))
        if len(self.path) < 2 or len(self.link_fidelities) != len(self.path) - 1:
            raise InvalidOperation("Plan: a path of k >= 2 nodes with k - 1 link fidelities")
        check_count("Plan", rounds=self.rounds)
        check_probability("Plan", delivered_fidelity=self.delivered_fidelity, expected_fidelity=self.expected_fidelity,
                          success_probability=self.success_probability,
                          **{f"link_fidelities[{i}]": f for i, f in enumerate(self.link_fidelities)})

    __repr__ = result_repr
    __eq__ = result_eq
    __hash__ = result_hash

    @property
    def pairs_per_attempt(self) -> int:
        pairs: int = 2**self.rounds
        return pairs


def check_target(min_fidelity: float) -> None:
    if not (0.25 < min_fidelity <= 1.0) or math.isnan(min_fidelity):
        raise InvalidOperation(f"target fidelity must be in (0.25, 1], got {min_fidelity}")


def plan_request(topology: Topology, a: str, b: str, min_fidelity: float, *,
                 cost: RoutingCost | str = RoutingCost.FIDELITY,
                 method: Method = Method.DEJMPS, max_rounds: int = MAX_PLAN_ROUNDS) -> Plan:
    check_target(min_fidelity)
    path = route(topology, a, b, cost)
    fids = path_fidelities(topology, path)
    f0 = chain_fidelity(fids)
    werner = (f0, (1 - f0) / 3, (1 - f0) / 3, (1 - f0) / 3)
    for rounds in range(max_rounds + 1):
        p, f = nested(method, werner, rounds) if rounds else (1.0, f0)
        if f >= min_fidelity - 1e-12:
            return Plan(tuple(path), tuple(fids), f0, method, rounds, f, p)
    best = nested(method, werner, max_rounds)[1]
    why = ("pairs at or below fidelity 1/2 cannot be purified" if f0 <= 0.5 else
           f"{max_rounds} rounds of {method.name} reach only {best:.4f}")
    raise NotConnected(
        f"target fidelity {min_fidelity} between {a!r} and {b!r} is unreachable with these links: the best path "
        f"{'-'.join(path)} delivers {f0:.4f} and {why}", peer=b, reason="unreachable", delivered=f0)
