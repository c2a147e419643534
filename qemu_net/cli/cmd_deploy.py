"""``qnet deploy``: render deployment files from a topology.

::

    qnet deploy compose --topology FILE [-o compose.yaml] [--image IMG]
    qnet deploy k8s     --topology FILE [-o DIR] [--namespace NS] [--name qnet] [--image IMG]
    qnet deploy k8s     --chain N | --ring N [--length-km KM] [-o DIR] ...   (a generated network)

Without ``-o``, ``k8s`` prints one multi-document YAML stream (pipe it to ``kubectl apply -f -``);
``compose`` always writes files, because the compose file mounts the topology written beside it.
Without ``--topology`` (or ``--chain``/``--ring``) the embedded default topology (alice -- repeater --
bob) is used. The image defaults to ``localhost/qnet:VERSION-HASH12`` of this source tree, the tag
``deploy/build-image.sh`` builds (``--registry R`` renders ``R/qnet:VERSION-HASH12``).

Scaling: the StatefulSet has exactly one replica per topology node, and pod ordinal i runs node i.
Growing the network is re-rendering from the larger topology and applying it (``qnet deploy k8s
--chain 8 -o deploy/k8s && kubectl apply -k deploy/k8s``); ``kubectl scale`` beyond the topology
starts pods that exit at once ("not in the topology", exit code 78).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qemu_net.network.topology import Topology


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "deploy",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    sub = p.add_subparsers(dest="deploy_target", metavar="{compose,k8s}")
    sub.required = True

    c = sub.add_parser("compose", help="write a compose file (one service per node) and the topology it mounts")
    c.add_argument("--topology", "-t", metavar="FILE", help="topology YAML file (default: the embedded demo topology)")
    c.add_argument("-o", "--output", default="compose.yaml", help="compose file to write (default: compose.yaml)")
    c.add_argument("--image", default=None, help="node image (default: localhost/qnet:VERSION-HASH12 of this tree)")
    c.add_argument(
        "--host-port", type=int, default=0, help="publish node i's gRPC port on 127.0.0.1:(HOST_PORT+i)"
    )
    c.add_argument("--insecure", action="store_true", help="nodes without TLS (default: mutual TLS, certificates "
                                                           "from qnet-tls/ beside the compose file)")
    c.set_defaults(func=run)

    k = sub.add_parser("k8s", help="render Kubernetes manifests (StatefulSet, headless Service, ...)")
    k.add_argument("--topology", "-t", metavar="FILE", help="topology YAML file (default: the embedded demo topology)")
    _generator_args(k)
    k.add_argument("-o", "--output", help="directory for one file per manifest + kustomization.yaml (default: stdout)")
    k.add_argument("--namespace", default="qnet", help="namespace (default: qnet)")
    k.add_argument("--name", default="qnet", help="StatefulSet name; pods are NAME-<i> (default: qnet)")
    k.add_argument("--image", default=None, help="node image (default: localhost/qnet:VERSION-HASH12 of this tree)")
    k.add_argument("--registry", help="image REGISTRY/qnet:VERSION-HASH12 (what build-image.sh --registry pushes)")
    k.add_argument("--pull-policy", choices=("Always", "IfNotPresent", "Never"),
                   help="imagePullPolicy (default: IfNotPresent for a VERSION-HASH12 tag or digest, else Always)")
    k.add_argument("--cpu-limit", default=None, help="per-node CPU limit (default: 1)")
    k.add_argument("--memory-limit", default=None,
                   help="per-node memory limit (default: 3Gi, room for the demo's 10^8-pulse QKD block)")
    k.add_argument("--insecure", action="store_true", help="nodes without TLS (default: mutual TLS from Secrets)")
    k.add_argument("--cert-manager", action="store_true",
                   help="also emit cert-manager Issuers and Certificates that make those Secrets")
    k.add_argument("--tls-secrets-from", metavar="DIR",
                   help="instead: print (or -o FILE: write) the TLS Secrets made from a `qnet certs` directory "
                        "(they hold private keys: apply, never commit)")
    k.set_defaults(func=run)


def _generator_args(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--chain", type=int, metavar="N", help="render a generated chain of N nodes (n0 .. nN-1)")
    g.add_argument("--ring", type=int, metavar="N", help="render a generated ring of N nodes")
    p.add_argument("--length-km", type=float, default=1.0, help="link length of a generated network (default 1)")


def _load(path: str | None, args: argparse.Namespace | None = None) -> Topology:
    from qemu_net.errors import TopologyError
    from qemu_net.network.topology import default_topology, load_topology

    kind = next((k for k in ("chain", "ring") if args is not None and getattr(args, k, None) is not None), None)
    if kind is not None and args is not None:
        if path:
            raise TopologyError(f"give either --topology or --{kind}, not both")
        from qemu_net.network.generate import generate

        return generate(kind, getattr(args, kind), length_km=args.length_km)
    return load_topology(path) if path else default_topology()


def run(args: argparse.Namespace) -> int:
    from qemu_net.errors import TopologyError

    try:
        topology = _load(args.topology, args)
    except TopologyError as exc:
        print(f"qnet deploy: {exc}", file=sys.stderr)
        return 2
    if args.deploy_target == "compose":
        from qemu_net.deploy.compose import ComposeOptions, write_compose

        copts = ComposeOptions(base_host_port=args.host_port, tls=not getattr(args, "insecure", False))
        if args.image:
            copts = ComposeOptions(image=args.image, base_host_port=args.host_port,
                                   tls=not getattr(args, "insecure", False))
        for path in write_compose(topology, args.output, copts):
            print(f"wrote {path}", file=sys.stderr)
        return 0

    from dataclasses import replace

    from qemu_net.deploy.k8s import K8sOptions, dump_all, render_k8s, write_k8s

    kopts = K8sOptions(namespace=args.namespace, name=args.name)
    image = args.image
    if image is None and args.registry:
        from qemu_net.deploy.image import default_image

        image = default_image(args.registry)
    overrides = {"image": image, "cpu_limit": args.cpu_limit, "memory_limit": args.memory_limit,
                 "image_pull_policy": args.pull_policy}
    kopts = replace(kopts, **{k: v for k, v in overrides.items() if v is not None})
    kopts = replace(kopts, tls=not getattr(args, "insecure", False), cert_manager=getattr(args, "cert_manager", False))
    if getattr(args, "tls_secrets_from", None):
        from pathlib import Path

        from qemu_net.deploy.k8s import tls_secrets

        text = dump_all(tls_secrets(args.tls_secrets_from, topology, kopts))
        if args.output:
            fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(text)
            print(f"wrote {Path(args.output)} (private keys: apply with kubectl, never commit)", file=sys.stderr)
        else:
            sys.stdout.write(text)
        return 0
    docs = render_k8s(topology, kopts)
    if args.output:
        for path in write_k8s(docs, args.output):
            print(f"wrote {path}", file=sys.stderr)
    else:
        sys.stdout.write(dump_all(docs))
    return 0
