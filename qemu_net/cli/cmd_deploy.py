"""``qnet deploy``: render deployment files from a topology.

::

    qnet deploy compose --topology FILE [-o compose.yaml] [--image IMG]
    qnet deploy k8s     --topology FILE [-o DIR] [--namespace NS] [--name qnet] [--image IMG]

Without ``-o``, ``k8s`` prints one multi-document YAML stream (pipe it to ``kubectl apply -f -``);
``compose`` always writes files, because the compose file mounts the topology written beside it.
Without ``--topology`` the embedded default topology (alice -- repeater -- bob) is used.
"""

from __future__ import annotations

import argparse
import os
import sys


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "deploy",
        help="render Docker Compose or Kubernetes files from a topology",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    sub = p.add_subparsers(dest="deploy_target", metavar="{compose,k8s}")
    sub.required = True

    c = sub.add_parser("compose", help="write a compose file (one service per node) and the topology it mounts")
    c.add_argument("--topology", help="topology YAML file (default: the embedded demo topology)")
    c.add_argument("-o", "--output", default="compose.yaml", help="compose file to write (default: compose.yaml)")
    c.add_argument("--image", default=None, help="node image (default: localhost/qnet:dev)")
    c.add_argument(
        "--host-port", type=int, default=0, help="publish node i's gRPC port on 127.0.0.1:(HOST_PORT+i)"
    )
    c.add_argument("--insecure", action="store_true", help="nodes without TLS (default: mutual TLS, certificates "
                                                           "from qnet-tls/ beside the compose file)")
    c.set_defaults(func=run)

    k = sub.add_parser("k8s", help="render Kubernetes manifests (StatefulSet, headless Service, ...)")
    k.add_argument("--topology", help="topology YAML file (default: the embedded demo topology)")
    k.add_argument("-o", "--output", help="directory for one file per manifest + kustomization.yaml (default: stdout)")
    k.add_argument("--namespace", default="qnet", help="namespace (default: qnet)")
    k.add_argument("--name", default="qnet", help="StatefulSet name; pods are NAME-<i> (default: qnet)")
    k.add_argument("--image", default=None, help="node image (default: localhost/qnet:dev)")
    k.add_argument("--cpu-limit", default=None, help="per-node CPU limit (default: 1)")
    k.add_argument("--memory-limit", default=None, help="per-node memory limit (default: 1Gi)")
    k.add_argument("--insecure", action="store_true", help="nodes without TLS (default: mutual TLS from Secrets)")
    k.add_argument("--cert-manager", action="store_true",
                   help="also emit cert-manager Issuers and Certificates that make those Secrets")
    k.add_argument("--tls-secrets-from", metavar="DIR",
                   help="instead: print (or -o FILE: write) the TLS Secrets made from a `qnet certs` directory "
                        "(they hold private keys: apply, never commit)")
    k.set_defaults(func=run)


def _load(path: str | None):  # type: ignore[no-untyped-def]
    from qemu_net.network.topology import default_topology, load_topology

    return load_topology(path) if path else default_topology()


def run(args: argparse.Namespace) -> int:
    from qemu_net.errors import TopologyError

    try:
        topology = _load(args.topology)
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
    overrides = {"image": args.image, "cpu_limit": args.cpu_limit, "memory_limit": args.memory_limit}
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
