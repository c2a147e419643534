"""Render Kubernetes manifests from a topology.

One topology becomes, in namespace ``NS`` with instance name ``qnet`` (both options)::

    Namespace        NS                                       (left out for "default")
    ConfigMap        qnet-topology     topology.yaml with every node's address filled in
    Service          qnet-nodes        headless: stable DNS qnet-<i>.qnet-nodes.NS.svc.cluster.local
    StatefulSet      qnet              N pods; ordinal i runs topology.nodes[i]
    NetworkPolicy    qnet-nodes        port 50052 (PeerService) only from node pods; 50051 and 8443 from anyone

Each node pod also serves its ETSI GS QKD 014 key manager on 8443 (HTTPS, mutual TLS) when the
optional Secret ``qnet-kme`` holds its certificates (ca.pem, <node>.pem, <node>.key; saes.json places
the applications), and keeps its key pools on a PersistentVolumeClaim (``keys``, mounted at
/var/lib/qnet/keys), so keys survive a pod's restart.
    Job              qnet-demo         the client: waits for every node, then runs a protocol

Node i's ``address`` becomes ``qnet-<i>.qnet-nodes:50051`` (public NodeService, clients) and its
``peer_address`` the same host on 50052 (node-to-node PeerService), so the NetworkPolicy can admit only
nodes to the second port. These are short names, resolved through the pod's DNS search path
(``<namespace>.svc.cluster.local`` first), so the manifests work unchanged in whatever namespace they
are applied to (e.g. a kustomize overlay with ``namespace: other``): nothing rendered names the
namespace except the objects' own ``metadata.namespace``. The node takes its name from its hostname's
ordinal, so every pod runs the same command; a pod whose ordinal is not in the topology exits at once
(exit code 78, see `qemu_net.cli.cmd_node`). Growing the network is re-rendering from a larger topology
(``qnet deploy k8s --chain N``), never ``kubectl scale``.

Probes: startup and liveness ask the health service for ``""`` (the process is up: local only, so a
dead peer never restarts a healthy pod); readiness asks for ``qemu_net.ready``, SERVING only while every
peer the node's links need answers (`qemu_net.node.readiness`). The pod's memory limit reaches the node
as ``QNET_MEMORY_LIMIT_BYTES`` (downward API), which bounds what one request may allocate
(`qemu_net.node.memlimit`). The image tag is ``VERSION-HASH12`` of the source tree
(`qemu_net.deploy.image`), so ``IfNotPresent`` never runs a stale image; a movable tag gets ``Always``.

Everything here is plain data (dicts) dumped with a ``yaml.SafeDumper``; nothing talks to a cluster.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qemu_net.deploy import _yaml
from qemu_net.deploy import image as _image
from qemu_net.network.topology import Topology

NODE_PORT = 50051
PEER_PORT = 50052
#: The ETSI GS QKD 014 key manager (HTTPS, mutual TLS) of every node.
KME_PORT = 8443
#: Certificates of the KME (ca.pem, <node>.pem, <node>.key) and saes.json, from an optional Secret.
KME_CERT_MOUNT = "/etc/qnet-kme"
#: The node's key pools (a PersistentVolumeClaim per pod).
KEY_STORE_MOUNT = "/var/lib/qnet/keys"
TOPOLOGY_MOUNT = "/etc/qnet"
TOPOLOGY_PATH = f"{TOPOLOGY_MOUNT}/topology.yaml"
def _default_image() -> str:
    """``localhost/qnet:VERSION-HASH12`` of this source tree (what deploy/build-image.sh tags)."""
    try:
        return _image.default_image()
    except (OSError, ValueError):  # an installed package without its source tree: a movable tag (pulled Always)
        return "localhost/qnet:dev"


DEFAULT_IMAGE = _default_image()
#: What the Job runs after every node is healthy (arguments to `qnet`).
DEFAULT_CLIENT_ARGS: tuple[str, ...] = ("demo", "--topology", TOPOLOGY_PATH, "--remote")


@dataclass(frozen=True)
class K8sOptions:
    """Knobs of the rendering. Resource figures are per node pod (Cirq alone is ~200 MB RSS)."""

    namespace: str = "qnet"
    name: str = "qnet"
    image: str = DEFAULT_IMAGE
    #: None: ``IfNotPresent`` for a VERSION-HASH12 tag or a digest, ``Always`` for a movable tag.
    image_pull_policy: str | None = None
    cpu_request: str = "250m"
    cpu_limit: str = "1"
    memory_request: str = "384Mi"
    memory_limit: str = "1Gi"
    client_args: tuple[str, ...] = DEFAULT_CLIENT_ARGS
    #: How long the client Job waits for all nodes to report SERVING before it gives up.
    client_wait_s: int = 300
    termination_grace_s: int = 15
    extra_labels: dict[str, str] = field(default_factory=dict)
    #: Size of each node's key-pool volume.
    key_store_size: str = "64Mi"

    @property
    def service(self) -> str:
        return f"{self.name}-nodes"


def node_host(i: int, opts: K8sOptions) -> str:
    """The stable DNS name of StatefulSet ordinal i behind the headless Service, relative to the pod's
    namespace (``qnet-0.qnet-nodes``; the search path completes it to ``...<ns>.svc.cluster.local``)."""
    return f"{opts.name}-{i}.{opts.service}"


def node_fqdn(i: int, opts: K8sOptions, namespace: str | None = None) -> str:
    """The fully qualified name of ordinal i in `namespace` (default: the rendered one)."""
    return f"{node_host(i, opts)}.{namespace or opts.namespace}.svc.cluster.local"


def _pull_policy(opts: K8sOptions) -> str:
    return opts.image_pull_policy or _image.pull_policy(opts.image)


def _downward_env() -> list[dict[str, Any]]:
    """What the pod tells its node about itself: its memory limit (bytes) and namespace."""
    return [
        {"name": "QNET_MEMORY_LIMIT_BYTES",
         "valueFrom": {"resourceFieldRef": {"containerName": "node", "resource": "limits.memory"}}},
        {"name": "QNET_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
    ]


def _readiness_probe() -> dict[str, Any]:
    """Ready = every linked peer reachable (health service `qemu_net.ready`); checked by the node itself."""
    from qemu_net.node.readiness import READY_SERVICE

    return {"grpc": {"port": NODE_PORT, "service": READY_SERVICE}, "periodSeconds": 5, "failureThreshold": 2,
            "timeoutSeconds": 2}


def cluster_topology(topology: Topology, opts: K8sOptions) -> Topology:
    """The topology with each node's address/peer_address set to its pod's stable DNS name."""
    nodes = tuple(
        n.model_copy(
            update={
                "address": f"{node_host(i, opts)}:{NODE_PORT}",
                "peer_address": f"{node_host(i, opts)}:{PEER_PORT}",
            }
        )
        for i, n in enumerate(topology.nodes)
    )
    return topology.model_copy(update={"nodes": nodes})


def _labels(opts: K8sOptions, component: str | None = None) -> dict[str, str]:
    out = {"app.kubernetes.io/name": "qemu-net", "app.kubernetes.io/instance": opts.name}
    if component:
        out["app.kubernetes.io/component"] = component
    out.update(opts.extra_labels)
    return out


def _selector(opts: K8sOptions, component: str) -> dict[str, str]:
    return {"app.kubernetes.io/instance": opts.name, "app.kubernetes.io/component": component}


def _meta(name: str, opts: K8sOptions, component: str | None = None) -> dict[str, Any]:
    return {"name": name, "namespace": opts.namespace, "labels": _labels(opts, component)}


_CONTAINER_SECURITY = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}
_POD_SECURITY = {
    "runAsNonRoot": True,
    "runAsUser": 10001,
    "runAsGroup": 10001,
    "seccompProfile": {"type": "RuntimeDefault"},
}


def render_k8s(topology: Topology, opts: K8sOptions | None = None) -> list[dict[str, Any]]:
    """Every manifest for `topology`, in apply order."""
    opts = opts or K8sOptions()
    topo = cluster_topology(topology, opts)
    topo_yaml = _yaml.topology_yaml(topo)
    checksum = hashlib.sha256(topo_yaml.encode()).hexdigest()
    n = len(topo.nodes)
    node_sel = _selector(opts, "node")
    docs: list[dict[str, Any]] = []

    if opts.namespace != "default":
        docs.append(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": opts.namespace, "labels": _labels(opts)}}
        )

    docs.append(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta(f"{opts.name}-topology", opts),
            "data": {"topology.yaml": topo_yaml},
        }
    )

    docs.append(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta(opts.service, opts, "node"),
            "spec": {
                "clusterIP": "None",
                # Peers must resolve each other while they start (before they report SERVING).
                "publishNotReadyAddresses": True,
                "selector": node_sel,
                "ports": [
                    {"name": "grpc", "port": NODE_PORT, "targetPort": "grpc", "protocol": "TCP"},
                    {"name": "grpc-peer", "port": PEER_PORT, "targetPort": "grpc-peer", "protocol": "TCP"},
                    {"name": "kme", "port": KME_PORT, "targetPort": "kme", "protocol": "TCP"},
                ],
            },
        }
    )

    grpc_probe = {"grpc": {"port": NODE_PORT}}
    volumes = [
        {"name": "topology", "configMap": {"name": f"{opts.name}-topology"}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
    ]
    mounts = [
        {"name": "topology", "mountPath": TOPOLOGY_MOUNT, "readOnly": True},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    node_volumes = [*volumes, {"name": "kme-certs", "secret": {"secretName": f"{opts.name}-kme", "optional": True,
                                                              "defaultMode": 0o440}}]
    node_mounts = [*mounts, {"name": "kme-certs", "mountPath": KME_CERT_MOUNT, "readOnly": True},
                   {"name": "keys", "mountPath": KEY_STORE_MOUNT}]
    node_container = {
        "name": "node",
        "image": opts.image,
        "imagePullPolicy": _pull_policy(opts),
        # The image's ENTRYPOINT is `qnet node`; the node name comes from the pod's ordinal.
        "args": ["--topology", TOPOLOGY_PATH],
        # The KME starts when the Secret provides certificates; the key pools live on the volume.
        "env": [{"name": "QNET_TOPOLOGY", "value": TOPOLOGY_PATH},
                {"name": "QNET_KME_CERT_DIR", "value": KME_CERT_MOUNT},
                {"name": "QNET_KME_SAES", "value": f"{KME_CERT_MOUNT}/saes.json"},
                {"name": "QNET_KME_HOST", "value": "0.0.0.0"},
                {"name": "QNET_KME_PORT", "value": str(KME_PORT)},
                {"name": "QNET_KEY_STORE_DIR", "value": KEY_STORE_MOUNT},
                *_downward_env()],
        "ports": [
            {"name": "grpc", "containerPort": NODE_PORT, "protocol": "TCP"},
            {"name": "grpc-peer", "containerPort": PEER_PORT, "protocol": "TCP"},
            {"name": "kme", "containerPort": KME_PORT, "protocol": "TCP"},
        ],
        "startupProbe": {**grpc_probe, "periodSeconds": 2, "failureThreshold": 60, "timeoutSeconds": 2},
        "readinessProbe": _readiness_probe(),
        "livenessProbe": {**grpc_probe, "periodSeconds": 10, "failureThreshold": 3, "timeoutSeconds": 5},
        "resources": {
            "requests": {"cpu": opts.cpu_request, "memory": opts.memory_request},
            "limits": {"cpu": opts.cpu_limit, "memory": opts.memory_limit},
        },
        "securityContext": _CONTAINER_SECURITY,
        "volumeMounts": node_mounts,
    }
    docs.append(
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": _meta(opts.name, opts, "node"),
            "spec": {
                "serviceName": opts.service,
                "replicas": n,
                # Nodes do not depend on each other to start; start them together.
                "podManagementPolicy": "Parallel",
                "selector": {"matchLabels": node_sel},
                "template": {
                    "metadata": {
                        "labels": _labels(opts, "node"),
                        "annotations": {"qemu-net.io/topology-sha256": checksum},
                    },
                    "spec": {
                        "terminationGracePeriodSeconds": opts.termination_grace_s,
                        "enableServiceLinks": False,
                        "automountServiceAccountToken": False,
                        "securityContext": {**_POD_SECURITY, "fsGroup": _POD_SECURITY["runAsGroup"]},
                        "containers": [node_container],
                        "volumes": node_volumes,
                    },
                },
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "keys", "labels": _labels(opts, "node")},
                        "spec": {"accessModes": ["ReadWriteOnce"],
                                 "resources": {"requests": {"storage": opts.key_store_size}}},
                    }
                ],
            },
        }
    )

    docs.append(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": _meta(opts.service, opts, "node"),
            "spec": {
                "podSelector": {"matchLabels": node_sel},
                "policyTypes": ["Ingress"],
                "ingress": [
                    # The node-to-node PeerService: only pods of this node set.
                    {
                        "from": [{"podSelector": {"matchLabels": node_sel}}],
                        "ports": [{"protocol": "TCP", "port": PEER_PORT}],
                    },
                    # The public NodeService: any client (and the kubelet's probes).
                    {"ports": [{"protocol": "TCP", "port": NODE_PORT}]},
                    # The ETSI 014 key manager: applications authenticate with mutual TLS.
                    {"ports": [{"protocol": "TCP", "port": KME_PORT}]},
                ],
            },
        }
    )

    client_sel = _labels(opts, "client")
    docs.append(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": _meta(f"{opts.name}-demo", opts, "client"),
            "spec": {
                "backoffLimit": 2,
                "activeDeadlineSeconds": opts.client_wait_s + 300,
                "ttlSecondsAfterFinished": 3600,
                "template": {
                    "metadata": {"labels": client_sel},
                    "spec": {
                        "restartPolicy": "Never",
                        "enableServiceLinks": False,
                        "automountServiceAccountToken": False,
                        "securityContext": _POD_SECURITY,
                        "initContainers": [
                            {
                                "name": "wait-for-nodes",
                                "image": opts.image,
                                "imagePullPolicy": _pull_policy(opts),
                                "command": ["python", "-m", "qemu_net.deploy.healthcheck"],
                                "args": ["--topology", TOPOLOGY_PATH, "--wait-s", str(opts.client_wait_s)],
                                "resources": {
                                    "requests": {"cpu": "50m", "memory": "64Mi"},
                                    "limits": {"cpu": "500m", "memory": "256Mi"},
                                },
                                "securityContext": _CONTAINER_SECURITY,
                                "volumeMounts": mounts,
                            }
                        ],
                        "containers": [
                            {
                                "name": "client",
                                "image": opts.image,
                                "imagePullPolicy": _pull_policy(opts),
                                "command": ["qnet"],
                                "args": list(opts.client_args),
                                "resources": {
                                    "requests": {"cpu": "100m", "memory": "256Mi"},
                                    "limits": {"cpu": "1", "memory": "1Gi"},
                                },
                                "securityContext": _CONTAINER_SECURITY,
                                "volumeMounts": mounts,
                            }
                        ],
                        "volumes": volumes,
                    },
                },
            },
        }
    )
    return docs


def _file_name(doc: dict[str, Any]) -> str:
    return f"{doc['kind'].lower()}.yaml"


def dump_all(docs: list[dict[str, Any]]) -> str:
    """One multi-document YAML stream."""
    return _yaml.dump_all(docs)


def write_k8s(docs: list[dict[str, Any]], out_dir: str | Path) -> list[Path]:
    """Write one file per manifest plus a kustomization.yaml listing them; return the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    names = []
    for doc in docs:
        name = _file_name(doc)
        if name in names:
            name = f"{doc['kind'].lower()}-{doc['metadata']['name']}.yaml"
        names.append(name)
        path = out / name
        path.write_text(_yaml.dump(doc))
        written.append(path)
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": names,
    }
    kpath = out / "kustomization.yaml"
    kpath.write_text(
        "# Rendered by `qnet deploy k8s`; regenerate instead of editing. Overlays can change the image\n"
        "# (images:), the namespace (namespace: works as is: peers are addressed by short, namespace-relative\n"
        "# names) and resources. To grow the network, re-render from a larger topology (replicas = its nodes).\n"
        + _yaml.dump(kustomization)
    )
    written.append(kpath)
    return written


__all__ = [
    "DEFAULT_CLIENT_ARGS",
    "DEFAULT_IMAGE",
    "NODE_PORT",
    "PEER_PORT",
    "K8sOptions",
    "cluster_topology",
    "dump_all",
    "node_fqdn",
    "node_host",
    "render_k8s",
    "write_k8s",
]
