"""Prometheus metrics of one node, read from its core at scrape time.

    qnet node ... --metrics-port 9100      # then GET http://host:9100/metrics

Exported: ``qnet_rpcs_total{service,method,code}``, ``qnet_epr_pairs_total{peer,mode}`` (mode: kept
or measured), and the gauges ``qnet_qubits_in_use``, ``qnet_memory_qubits``, ``qnet_groups_held`` and
``qnet_virtual_time_seconds``, all labelled with the node's name.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from qemu_net.node.core import NodeCore


class NodeCollector(Collector):
    def __init__(self, core: NodeCore) -> None:
        self.core = core

    def collect(self) -> Iterator[Metric]:
        core = self.core
        node = core.name
        rpcs = CounterMetricFamily("qnet_rpcs", "RPCs served, by service, method and status code",
                                   labels=["node", "service", "method", "code"])
        epr = CounterMetricFamily("qnet_epr_pairs", "EPR pairs this node generated as the source end",
                                  labels=["node", "peer", "mode"])
        with core.metrics_lock:
            rpc_counts = dict(core.rpc_counts)
            epr_counts = dict(core.epr_counts)
        for (service, method, code), n in sorted(rpc_counts.items()):
            rpcs.add_metric([node, service, method, code], n)
        attempts = CounterMetricFamily("qnet_epr_attempts", "EPR generation attempts (as the source end)",
                                       labels=["node", "peer"])
        for (peer, mode), n in sorted(epr_counts.items()):
            if mode == "attempts":
                attempts.add_metric([node, peer], n)
            else:
                epr.add_metric([node, peer, mode], n)
        yield rpcs
        yield epr
        yield attempts
        fid = GaugeMetricFamily("qnet_epr_delivered_fidelity",
                                "Bell fidelity of the pairs this node delivers to a neighbour (its link model)",
                                labels=["node", "peer"])
        for peer, f in sorted(core.link.delivered_fidelities().items()):
            fid.add_metric([node, peer], f)
        yield fid
        info = core.info()
        for name, value, doc in (
            ("qnet_qubits_in_use", info["qubits_in_use"], "qubits located at this node"),
            ("qnet_memory_qubits", info["memory_qubits"], "capacity of this node's quantum memory"),
            ("qnet_groups_held", info["groups_held"], "entangled groups whose state this process holds"),
        ):
            g = GaugeMetricFamily(name, doc, labels=["node"])
            g.add_metric([node], float(value))
            yield g
        t = GaugeMetricFamily("qnet_virtual_time_seconds", "this node's virtual clock", labels=["node"])
        t.add_metric([node], core.clock.now() * 1e-9)
        yield t


def serve_collector(collector: Collector, port: int, host: str = "0.0.0.0") -> int:
    """Serve /metrics with only `collector`'s metrics on host:port (0: any free port) in a daemon thread;
    return the bound port."""
    registry = CollectorRegistry()
    registry.register(collector)
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return int(server.server_port)


def serve_metrics(core: NodeCore, port: int, host: str = "0.0.0.0") -> int:
    """Serve /metrics on host:port (0: any free port) in a daemon thread; return the bound port."""
    return serve_collector(NodeCollector(core), port, host)
