"""Kubernetes manifests for a NetQASM application: one Job per role, attached to its node.

Rendered beside the network's own manifests (`qemu_net.deploy.k8s.render_k8s`, same options): a
ConfigMap holds the application's files and one run specification per role, and each role's Job runs
``python -m qemu_net.netqasm.runner`` with its node's stable DNS address (the role talks only to its own
node; the nodes carry everything between roles). Each Job waits for the nodes to be healthy first,
prefers the node of its role (pod affinity on the StatefulSet pod name), and prints the role's return
value as one JSON line in its log (``kubectl logs job/<name>-app-<role>``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qemu_net.deploy.k8s import (
    _CONTAINER_SECURITY,
    _POD_SECURITY,
    CLIENT_LABEL,
    TLS_MOUNT,
    TOPOLOGY_MOUNT,
    TOPOLOGY_PATH,
    K8sOptions,
    _labels,
    _meta,
    cluster_topology,
    tls_mounts,
    tls_volumes,
)
from qemu_net.errors import InvalidOperation
from qemu_net.netqasm.app import AppLayout
from qemu_net.network.topology import Topology

APP_MOUNT = "/etc/qnet-app"
#: Where the application's files are unpacked from the ConfigMap (writable: Python writes caches).
WORK_DIR = "/tmp/app"
_MAX_CONFIGMAP_BYTES = 900_000


def _app_files(layout: AppLayout) -> dict[str, str]:
    """Relative path -> text of every .py / .yaml file of the application directory."""
    files: dict[str, str] = {}
    for f in sorted(layout.path.rglob("*")):
        if f.is_file() and f.suffix in (".py", ".yaml", ".yml") and "__pycache__" not in f.parts:
            files[str(f.relative_to(layout.path))] = f.read_text()
    return files


def _key(rel: str) -> str:
    return "f-" + rel.replace("/", "__")


def render_app_jobs(topology: Topology, layout: AppLayout, opts: K8sOptions | None = None, *,
                    timeout_s: float = 600.0) -> list[dict[str, Any]]:
    """The application's ConfigMap and one Job per role (apply after the network's manifests)."""
    opts = opts or K8sOptions()
    names = [n.name for n in topology.nodes]
    index = {n: i for i, n in enumerate(names)}
    for role, node in layout.placement.items():
        if node not in index:
            raise InvalidOperation(f"role {role!r} runs at node {node!r}, which the topology does not have "
                                   f"(nodes: {', '.join(names)})")
    cluster = cluster_topology(topology, opts)
    addresses = {n.name: n.address for n in cluster.nodes}
    files = _app_files(layout)
    data = {_key(rel): text for rel, text in files.items()}
    for role in layout.roles:
        spec = {"app_dir": WORK_DIR, "role": role, "roles": layout.placement, "addresses": addresses,
                "inputs": layout.inputs.get(role, {}), "timeout_s": timeout_s,
                "result_file": f"/tmp/{role}.result.json", "log_dir": "/tmp/log", "print_result": True,
                # Mutual TLS as the network's `client` identity (the Secret the demo Job mounts too).
                "tls_dir": TLS_MOUNT if opts.tls else None, "tls_identity": "client" if opts.tls else None}
        data[f"spec-{role}.json"] = json.dumps(spec, indent=1)
    if sum(len(v) for v in data.values()) > _MAX_CONFIGMAP_BYTES:
        raise InvalidOperation(f"{layout.path}: the application's files exceed what one ConfigMap holds (~1 MB)")
    app = layout.path.name.replace("_", "-").lower()
    cm_name = f"{opts.name}-app-{app}"
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(cm_name, opts, "app"), "data": data}
    ]
    # Unpack the files into their directories, then run the role.
    unpack = "; ".join(
        f"mkdir -p {WORK_DIR}/{Path(rel).parent} && cp {APP_MOUNT}/{_key(rel)} {WORK_DIR}/{rel}" for rel in files
    )
    for role in layout.roles:
        node = layout.placement[role]
        job = role.replace("_", "-").lower()
        labels = {**_labels(opts, "app"), "qemu-net/app": app, "qemu-net/role": job}
        # The NetworkPolicy admits only pods labelled as clients to the nodes' public port.
        pod_labels = {**labels, CLIENT_LABEL: "true"}
        docs.append({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {**_meta(f"{opts.name}-app-{app}-{job}", opts, "app"), "labels": labels},
            "spec": {
                "backoffLimit": 0,
                "activeDeadlineSeconds": int(opts.client_wait_s + timeout_s + 60),
                "ttlSecondsAfterFinished": 3600,
                "template": {
                    "metadata": {"labels": pod_labels},
                    "spec": {
                        "restartPolicy": "Never",
                        "enableServiceLinks": False,
                        "automountServiceAccountToken": False,
                        "securityContext": _POD_SECURITY,
                        "affinity": {"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                            "weight": 100,
                            "podAffinityTerm": {
                                "labelSelector": {"matchLabels": {
                                    "statefulset.kubernetes.io/pod-name": f"{opts.name}-{index[node]}"}},
                                "topologyKey": "kubernetes.io/hostname",
                            },
                        }]}},
                        "initContainers": [{
                            "name": "wait-for-nodes",
                            "image": opts.image,
                            "imagePullPolicy": opts.image_pull_policy,
                            "command": ["python", "-m", "qemu_net.deploy.healthcheck"],
                            "args": ["--topology", TOPOLOGY_PATH, "--wait-s", str(opts.client_wait_s)],
                            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"},
                                          "limits": {"cpu": "500m", "memory": "256Mi"}},
                            "securityContext": _CONTAINER_SECURITY,
                            "volumeMounts": [{"name": "topology", "mountPath": TOPOLOGY_MOUNT, "readOnly": True},
                                             *tls_mounts(opts)],
                            "env": [{"name": "QNET_TLS_DIR", "value": TLS_MOUNT}] if opts.tls else [],
                        }],
                        "containers": [{
                            "name": "role",
                            "image": opts.image,
                            "imagePullPolicy": opts.image_pull_policy,
                            "command": ["sh", "-c"],
                            "args": [f"{unpack}; exec python -m qemu_net.netqasm.runner {APP_MOUNT}/spec-{role}.json"],
                            "env": [{"name": "QNET_NODE", "value": node}],
                            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                                          "limits": {"cpu": "1", "memory": "512Mi"}},
                            "securityContext": _CONTAINER_SECURITY,
                            "volumeMounts": [
                                {"name": "app", "mountPath": APP_MOUNT, "readOnly": True},
                                {"name": "tmp", "mountPath": "/tmp"},
                                *tls_mounts(opts),
                            ],
                        }],
                        "volumes": [
                            {"name": "topology", "configMap": {"name": f"{opts.name}-topology"}},
                            {"name": "app", "configMap": {"name": cm_name}},
                            {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
                            *tls_volumes(topology, opts, node=False),
                        ],
                    },
                },
            },
        })
    return docs
