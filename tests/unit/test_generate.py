"""Regular topologies (`qnet topology chain|ring|star|grid N`) and `qnet topology show`."""

from __future__ import annotations

import io
import json
import math
from contextlib import redirect_stdout

import networkx as nx
import pytest
import yaml

from qemu_net.cli.main import main
from qemu_net.errors import TopologyError
from qemu_net.network.generate import generate
from qemu_net.network.topology import FIBER_NS_PER_KM, parse_topology


def _graph(t):
    g = nx.Graph()
    g.add_nodes_from(t.node_names)
    g.add_edges_from(lk.nodes for lk in t.links)
    return g


@pytest.mark.parametrize("kind,n,nodes,edges,max_degree", [
    ("chain", 16, 16, 15, 2), ("ring", 5, 5, 5, 2), ("star", 6, 6, 5, 5), ("grid", 3, 9, 12, 4),
])
def test_generated_shapes(kind, n, nodes, edges, max_degree):
    """Each kind has the node and link counts and the degrees of its graph."""
    t = generate(kind, n, length_km=2.5)
    g = _graph(t)
    assert (g.number_of_nodes(), g.number_of_edges()) == (nodes, edges)
    assert nx.is_connected(g)
    assert max(d for _, d in g.degree()) == max_degree
    assert all(lk.length_km == 2.5 for lk in t.links)
    if kind == "chain":
        assert nx.is_isomorphic(g, nx.path_graph(16))
        assert [set(c.nodes) for c in t.classical_links] == [{"n0", "n15"}]
        assert t.classical_links[0].length_km == 2.5 * 15
    if kind == "ring":
        assert nx.is_isomorphic(g, nx.cycle_graph(5))


def test_generate_rejects_bad_sizes():
    """Sizes below a kind's minimum or above the bound are a TopologyError naming the kind."""
    for kind, n in (("ring", 2), ("chain", 1), ("grid", 40)):
        with pytest.raises(TopologyError, match=kind):
            generate(kind, n)


def test_cli_writes_a_compact_topology_that_parses_back(tmp_path):
    """`qnet topology chain 4 -o FILE` writes only non-defaults; it parses back to the same topology."""
    out = tmp_path / "c.yaml"
    assert main(["topology", "chain", "4", "--length-km", "7", "--source-fidelity", "0.97", "-o", str(out)]) == 0
    data = yaml.safe_load(out.read_text())
    assert data["nodes"] == [{"name": f"n{i}"} for i in range(4)]
    back = parse_topology(data)
    assert back == generate("chain", 4, length_km=7, link={"source_fidelity": 0.97})


def test_show_resolves_overrides_and_physics(tmp_path):
    """`qnet topology show --json` gives each link's transmissivity and each node's overridden T2."""
    out = tmp_path / "s.yaml"
    main(["topology", "star", "3", "--length-km", "10", "-o", str(out)])
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(["topology", "show", str(out), "--json", "--t2-s", "0.01", "--attenuation-db-per-km", "0.3"]) == 0
    d = json.loads(buf.getvalue())
    assert [n["t2_s"] for n in d["nodes"]] == [0.01] * 3
    for lk in d["links"]:
        assert lk["attenuation_db_per_km"] == 0.3
        assert math.isclose(lk["transmissivity"], 10 ** (-0.3 * 10 / 10), rel_tol=1e-12)
        assert math.isclose(lk["latency_ns"], 10 * FIBER_NS_PER_KM, rel_tol=1e-12)  # the fiber constant
