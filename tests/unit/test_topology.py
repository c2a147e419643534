"""Topology validation: defaults, and errors that name the key path."""

from __future__ import annotations

import pytest

from qemu_net.errors import TopologyError
from qemu_net.network.topology import default_topology, load_topology, parse_topology


def test_three_line_file_works(tmp_path):
    p = tmp_path / "t.yaml"
    p.write_text("nodes: [alice, bob]\nlinks: [[alice, bob]]\n")
    t = load_topology(p)
    assert t.node_names == ("alice", "bob")
    assert t.link("bob", "alice").length_km == 0
    assert t.classical_latency_ns("alice", "bob") == 0


def test_latency_is_derived_from_length_and_overridable():
    t = parse_topology({"nodes": ["a", "b", "c"], "links": [{"nodes": ["a", "b"], "length_km": 10},
                                                            {"nodes": ["b", "c"], "classical_latency_ns": 7}]})
    assert t.classical_latency_ns("a", "b") == pytest.approx(50_000)
    assert t.classical_latency_ns("b", "c") == 7
    assert t.classical_latency_ns("a", "c") is None


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        ({"nodes": ["a", "b"], "links": [{"nodes": ["a", "b"], "length_km": -1}]}, "links[0].length_km"),
        ({"nodes": ["a", "b"], "links": [{"nodes": ["a", "b"], "detector_efficiency": 1.5}]},
         "links[0].detector_efficiency"),
        ({"nodes": [{"name": "a", "t1_s": 1.0, "t2_s": 3.0}]}, "t2_s=3.0 exceeds 2*t1_s"),
        ({"nodes": ["a", "b"], "links": [["a", "zed"]]}, "links[0].nodes: unknown node 'zed'"),
        ({"nodes": ["a", "a"]}, "nodes[1].name: duplicate node name 'a'"),
        ({"nodes": ["a"], "links": [["a", "a"]]}, "to itself"),
        ({"nodes": ["a", "b"], "links": [{"nodes": ["a", "b"], "colour": "red"}]}, "links[0].colour"),
        ({"nodes": ["a", "b"], "links": [["a", "b"], ["b", "a"]]}, "links[1].nodes: a second link"),
    ],
)
def test_errors_name_the_key_path(doc, needle):
    with pytest.raises(TopologyError) as info:
        parse_topology(doc)
    assert needle in str(info.value)


def test_default_topology_is_the_demo_network():
    t = default_topology()
    assert t.node_names == ("alice", "repeater", "bob")
