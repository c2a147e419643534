"""Fallback node runner for the namespace tests while `qnet node` is not installed.

Follows the `qnet node` contract: ``run_node.py TOPOLOGY NAME [--allow-inspect]`` serves the public
service on 0.0.0.0:<port of address> and, when the node has a ``peer_address``, the PeerService on
0.0.0.0:<its port>; SERVING once started; SIGTERM drains and exits.
"""

from __future__ import annotations

import sys

from qemu_net.network.topology import load_topology
from qemu_net.node.server import NodeServer


def main() -> int:
    topology = load_topology(sys.argv[1])
    spec = topology.node(sys.argv[2])
    port = spec.address.rsplit(":", 1)[1]
    peer = f"0.0.0.0:{spec.peer_address.rsplit(':', 1)[1]}" if spec.peer_address else None
    server = NodeServer(
        topology, spec.name, listen=f"0.0.0.0:{port}", peer_listen=peer, allow_inspect="--allow-inspect" in sys.argv
    )
    server.start()
    server.install_signal_handlers()
    server.mark_serving()
    print(f"node {spec.name} serving on {port}", flush=True)
    server.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
