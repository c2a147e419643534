"""Fallback node runner for the namespace tests while `qnet node` is not installed.

Follows the `qnet node` contract: ``run_node.py TOPOLOGY NAME [--allow-inspect] [--tls-dir DIR]`` serves
the public service on 0.0.0.0:<port of address> and the PeerService on 0.0.0.0:<port of peer_address>
(else the public port + 1), with mutual TLS when given the certificate directory; SERVING once
started; SIGTERM drains and exits.
"""

from __future__ import annotations

import sys

from qemu_net.network.topology import load_topology
from qemu_net.node.server import NodeServer
from qemu_net.security.tls import load_credentials


def main() -> int:
    topology = load_topology(sys.argv[1])
    spec = topology.node(sys.argv[2])
    port = spec.address.rsplit(":", 1)[1]
    peer = f"0.0.0.0:{spec.peer_address.rsplit(':', 1)[1]}" if spec.peer_address else f"0.0.0.0:{int(port) + 1}"
    tls = None
    if "--tls-dir" in sys.argv:
        tls = load_credentials(sys.argv[sys.argv.index("--tls-dir") + 1], node=spec.name)
    server = NodeServer(
        topology, spec.name, listen=f"0.0.0.0:{port}", peer_listen=peer, allow_inspect="--allow-inspect" in sys.argv,
        tls=tls,
    )
    server.start()
    server.install_signal_handlers()
    server.mark_serving()
    print(f"node {spec.name} serving on {port}", flush=True)
    server.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
