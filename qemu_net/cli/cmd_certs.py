"""`qnet certs`: write a network's certificates (CA, one per node, clients and applications).

The layout (see docs/security.md)::

    DIR/ca.pem, DIR/ca.key          the network CA (ca.key stays with whoever issues certificates)
    DIR/nodes/<node>.pem|.key       SAN DNS:<node>, localhost, 127.0.0.1 and its address hosts
                                    (with --k8s also its pod host qnet-<i>.qnet-nodes)
    DIR/apps/<name>.pem|.key        SAN DNS:<name>: ``client`` (the CLI's and SDK's default) and each --app

Run it again on the same directory to re-issue every node and application certificate with the same
CA (rotation); ``--new-ca`` replaces the CA too.
"""

from __future__ import annotations

import argparse
import json

from qemu_net.cli.common import add_topology_args


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("certs", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_topology_args(p)
    p.add_argument("--out", "-o", required=True, metavar="DIR", help="directory to write (made if missing)")
    p.add_argument("--app", action="append", default=[], metavar="NAME",
                   help="also issue an application certificate with this identity (repeatable)")
    p.add_argument("--dns", action="append", default=[], metavar="NAME",
                   help="an extra DNS name on every node certificate (repeatable)")
    p.add_argument("--k8s", action="store_true",
                   help="also name each node's Kubernetes pod host (qnet-<i>.qnet-nodes, as `qnet deploy k8s` "
                        "addresses it), for `qnet deploy k8s --tls-secrets-from DIR`")
    p.add_argument("--validity-days", type=int, default=365, help="leaf certificate lifetime (default 365)")
    p.add_argument("--new-ca", action="store_true", help="make a new CA even if DIR already has one")
    p.add_argument("--json", action="store_true", help="print what was written as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from qemu_net.cli.common import load
    from qemu_net.errors import InvalidOperation
    from qemu_net.security.tls import write_network_certs

    if args.validity_days < 1:
        raise InvalidOperation(f"--validity-days must be >= 1, got {args.validity_days}")
    topology = load(args)
    out = Path(args.out)
    node_dns = None
    if args.k8s:
        from qemu_net.deploy.k8s import K8sOptions, node_host

        node_dns = {n.name: [node_host(i, K8sOptions())] for i, n in enumerate(topology.nodes)}
    written = write_network_certs(topology, out, apps=args.app, reuse_ca=not args.new_ca,
                                  validity_days=args.validity_days, extra_dns=args.dns, node_dns=node_dns)
    if args.json:
        print(json.dumps({"network": topology.name, "dir": str(out), **written}))
    else:
        print(f"network {topology.name!r}: CA {out / 'ca.pem'}")
        print(f"  nodes: {', '.join(written['nodes'])}  ({out / 'nodes'})")
        print(f"  apps:  {', '.join(written['apps'])}  ({out / 'apps'})")
    return 0
