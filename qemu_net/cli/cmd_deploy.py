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
    c.set_defaults(func=run)

    k = sub.add_parser("k8s", help="render Kubernetes manifests (StatefulSet, headless Service, ...)")
    k.add_argument("--topology", help="topology YAML file (default: the embedded demo topology)")
    k.add_argument("-o", "--output", help="directory for one file per manifest + kustomization.yaml (default: stdout)")
    k.add_argument("--namespace", default="qnet", help="namespace (default: qnet)")
    k.add_argument("--name", default="qnet", help="StatefulSet name; pods are NAME-<i> (default: qnet)")
    k.add_argument("--image", default=None, help="node image (default: localhost/qnet:dev)")
    k.add_argument("--cpu-limit", default=None, help="per-node CPU limit (default: 1)")
    k.add_argument("--memory-limit", default=None, help="per-node memory limit (default: 1Gi)")
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

        copts = ComposeOptions(base_host_port=args.host_port)
        if args.image:
            copts = ComposeOptions(image=args.image, base_host_port=args.host_port)
        for path in write_compose(topology, args.output, copts):
            print(f"wrote {path}", file=sys.stderr)
        return 0

    from dataclasses import replace

    from qemu_net.deploy.k8s import K8sOptions, dump_all, render_k8s, write_k8s

    kopts = K8sOptions(namespace=args.namespace, name=args.name)
    overrides = {"image": args.image, "cpu_limit": args.cpu_limit, "memory_limit": args.memory_limit}
    kopts = replace(kopts, **{k: v for k, v in overrides.items() if v is not None})
    docs = render_k8s(topology, kopts)
    if args.output:
        for path in write_k8s(docs, args.output):
            print(f"wrote {path}", file=sys.stderr)
    else:
        sys.stdout.write(dump_all(docs))
    return 0
