"""A live web dashboard of a running network (`qnet dashboard`, `qnet up --dashboard`).

    from qemu_net.dashboard import Dashboard

    with Network.connect(topology) as net, Dashboard(net, topology, metrics={"alice": "127.0.0.1:9100"}) as d:
        print(d.url)

Everything it shows is read from the nodes (their GetInfo and key-delivery status RPCs and their
Prometheus metrics); the runs started from the page are the only thing the dashboard keeps itself.
"""

from qemu_net.dashboard.server import Dashboard

__all__ = ["Dashboard"]
