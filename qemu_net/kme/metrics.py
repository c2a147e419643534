"""Prometheus metrics of a node's key pools (the `qemu_net.node.metrics` pattern: read at scrape time).

Exported, labelled with the node and the neighbour of the link: ``qnet_key_pool_bits`` (unused key
bits the node holds for the link), ``qnet_key_pool_max_bits`` (the level the background sessions
fill it to) and the counter ``qnet_key_pool_sessions`` (sessions this node ran as Alice to fill it).
Served on ``QNET_KME_METRICS_PORT`` when set.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from qemu_net.kme.service import NodeKme
from qemu_net.node.metrics import serve_collector


class KeyPoolCollector(Collector):
    def __init__(self, kme: NodeKme) -> None:
        self.kme = kme

    def collect(self) -> Iterator[Metric]:
        node = self.kme.name
        level = GaugeMetricFamily("qnet_key_pool_bits", "unused QKD key bits held for a link", labels=["node", "peer"])
        cap = GaugeMetricFamily("qnet_key_pool_max_bits", "level the background sessions fill a link's pool to",
                                labels=["node", "peer"])
        sessions = CounterMetricFamily("qnet_key_pool_sessions", "pool-filling sessions run as Alice",
                                       labels=["node", "peer"])
        runs = self.kme.sessions_by_peer()
        for peer, bits in sorted(self.kme.pool_levels().items()):
            level.add_metric([node, peer], float(bits))
            cap.add_metric([node, peer], float(self.kme.config.pool_max_bits))
            sessions.add_metric([node, peer], float(runs.get(peer, 0)))
        yield level
        yield cap
        yield sessions


def serve_pool_metrics(kme: NodeKme, port: int, host: str = "0.0.0.0") -> int:
    """Serve /metrics with the pool collector in a daemon thread; return the bound port."""
    return serve_collector(KeyPoolCollector(kme), port, host)


__all__ = ["KeyPoolCollector", "serve_pool_metrics"]
