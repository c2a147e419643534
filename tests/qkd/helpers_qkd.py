"""Shared helpers for the QKD tests: topologies and running both roles in-process."""

from __future__ import annotations

from typing import Any

from qemu_net.network.topology import Topology, parse_topology
from qemu_net.qkd.local import run_local_session


def two_nodes(**link: Any) -> Topology:
    """alice -- bob over one fiber with the given link fields."""
    return parse_topology({"nodes": ["alice", "bob"], "links": [{"nodes": ["alice", "bob"], **link}]})


def run_pair(topology: Topology, alice_role, bob_role, alice_params, bob_params, *, seed: int = 0):
    """Run Alice's and Bob's roles concurrently; returns (alice_result, bob_result)."""
    out = run_local_session(
        topology, {"alice": (alice_role, alice_params), "bob": (bob_role, bob_params)}, seed=seed
    )
    return out["alice"], out["bob"]
