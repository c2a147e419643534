"""Topology validation: defaults, and errors that name the key path."""

from __future__ import annotations

import pytest
import yaml

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
    assert t.classical_latency_ns("a", "b") == pytest.approx(10 * 1.468e9 / 299_792.458)  # 10 km x n_g / c
    assert t.classical_latency_ns("b", "c") == 7
    assert t.classical_latency_ns("a", "c") is None


def test_group_index_sets_the_delay_per_km():
    """Light needs n_g / c per km: 4896.7 ns at the default n_g = 1.468, 5000 ns at n_g = 1.49896."""
    t = parse_topology({"nodes": ["a", "b", "c"], "links": [{"nodes": ["a", "b"], "length_km": 1},
                                                            {"nodes": ["b", "c"], "length_km": 2, "group_index": 1.5}],
                        "classical_links": [{"nodes": ["a", "c"], "length_km": 3, "group_index": 1.4}]})
    assert t.link("a", "b").ns_per_km == pytest.approx(4896.72, abs=0.01)
    assert t.classical_latency_ns("b", "c") == pytest.approx(2 * 1.5e9 / 299_792.458)
    assert t.classical_latency_ns("a", "c") == pytest.approx(3 * 1.4e9 / 299_792.458)
    with pytest.raises(TopologyError, match=r"links\[0\]\.group_index"):
        parse_topology({"nodes": ["a", "b"], "links": [{"nodes": ["a", "b"], "group_index": 0.5}]})


def test_presets_fill_keys_and_explicit_values_win():
    """A node or link preset sets its keys; a key given beside it overrides the preset's value."""
    from qemu_net.network.presets import PRESETS

    nv = PRESETS["nv-delft-2021"]
    t = parse_topology({"nodes": [{"name": "a", "preset": "nv-delft-2021"},
                                  {"name": "b", "preset": "nv-delft-2021", "t2_s": 0.25}],
                        "links": [{"nodes": ["a", "b"], "preset": "nv-delft-2021", "bright_state_alpha": 0.1}]})
    a, b = t.nodes
    for key, v in nv.node.items():
        assert getattr(a, key) == v.value
    assert b.t2_s == 0.25 and b.gate_2q_error == nv.node["gate_2q_error"].value
    link = t.links[0]
    assert link.heralding == "single-click" and link.bright_state_alpha == 0.1
    assert link.detector_efficiency == nv.link["detector_efficiency"].value
    # A round trip through YAML keeps every value.
    assert parse_topology(yaml.safe_load(t.to_yaml())) == t


def test_network_wide_preset_applies_where_none_is_named():
    t = parse_topology({"preset": "telecom-qkd", "nodes": ["a", {"name": "b", "preset": "ideal"}],
                        "links": [["a", "b"]]})
    assert t.links[0].attenuation_db_per_km == 0.21 and 2 * t.links[0].dark_count_probability == 1.7e-6
    assert t.links[0].misalignment_error == 0.033 and t.links[0].detector_efficiency == 0.045
    assert t.node("b").preset == "ideal" and t.node("a").preset == "telecom-qkd"


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        ({"nodes": [{"name": "a", "preset": "warp"}]}, "nodes[0].preset: unknown node preset 'warp'"),
        ({"nodes": ["a", "b"], "links": [{"nodes": ["a", "b"], "preset": "warp"}]},
         "links[0].preset: unknown link preset 'warp'"),
        ({"nodes": [{"name": "a", "preset": "nv-delft-2021", "gate_2q_error": 2}]}, "nodes[0].gate_2q_error"),
        ({"nodes": ["a", "b"], "links": [{"nodes": ["a", "b"], "heralding": "triple-click"}]}, "links[0].heralding"),
    ],
)
def test_preset_errors_name_the_key_path(doc, needle):
    with pytest.raises(TopologyError) as info:
        parse_topology(doc)
    assert needle in str(info.value)


def test_ideal_preset_is_noiseless_and_lossless():
    t = parse_topology({"preset": "ideal", "nodes": ["a", "b"], "links": [{"nodes": ["a", "b"], "length_km": 50}]})
    assert all(n.noiseless for n in t.nodes)
    assert t.links[0].transmissivity == 1.0 and t.links[0].source_fidelity == 1.0


def test_hardware_doc_lists_every_preset_value():
    """docs/hardware.md carries the table rendered from the presets (regenerate it when a value changes)."""
    from pathlib import Path

    from qemu_net.network.presets import hardware_markdown

    doc = (Path(__file__).resolve().parents[2] / "docs" / "hardware.md").read_text()
    assert hardware_markdown() in doc


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
