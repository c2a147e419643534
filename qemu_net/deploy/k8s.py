"""Render Kubernetes manifests from a topology.

One topology becomes, in namespace ``NS`` with instance name ``qnet`` (both options)::

    Namespace        NS                                       (left out for "default")
    ConfigMap        qnet-topology     topology.yaml with every node's address filled in
    Service          qnet-nodes        headless: stable DNS qnet-<i>.qnet-nodes.NS.svc.cluster.local
    StatefulSet      qnet              N pods; ordinal i runs topology.nodes[i]
    NetworkPolicy    qnet-nodes        50052 (PeerService) only from node pods; 50051 and 8443 only from pods
                                       labelled qemu-net/client=true; 50053 (plaintext health) from anyone
    PodDisruptionBudget qnet-nodes     at most one node pod voluntarily down at a time
    (Issuer, Certificate              with cert_manager: the network CA and one certificate per node/app)
    Job              qnet-demo         the client: waits for every node, then runs a protocol

Mutual TLS is on by default: every pod mounts its certificates at /etc/qnet-tls from Secrets
``qnet-tls-<node>`` / ``qnet-tls-client`` (type kubernetes.io/tls with ca.crt), made by cert-manager
(``cert_manager=True``) or from a `qnet certs` directory (`tls_secrets`). Kubernetes' gRPC probes,
which cannot speak TLS, ask the plaintext health-only port 50053.

Each node pod also serves its ETSI GS QKD 014 key manager on 8443 (HTTPS, mutual TLS) when the
optional Secret ``qnet-kme`` holds its certificates (ca.pem, <node>.pem, <node>.key; saes.json places
the applications), and keeps its key pools on a PersistentVolumeClaim (``keys``, mounted at
/var/lib/qnet/keys), so keys survive a pod's restart.

Node i's ``address`` becomes ``qnet-<i>.qnet-nodes:50051`` (public NodeService, clients) and its
``peer_address`` the same host on 50052 (node-to-node PeerService), so the NetworkPolicy can admit only
nodes to the second port. These are short names, resolved through the pod's DNS search path
(``<namespace>.svc.cluster.local`` first), so the manifests work unchanged in whatever namespace they
are applied to (e.g. a kustomize overlay with ``namespace: other``): nothing rendered names the
namespace except the objects' own ``metadata.namespace``. The node takes its name from its hostname's
ordinal, so every pod runs the same command; a pod whose ordinal is not in the topology exits at once
(exit code 78, see `qemu_net.cli.cmd_node`). Growing the network is re-rendering from a larger topology
(``qnet deploy k8s --chain N``), never ``kubectl scale``.

Probes (all on the plaintext probe port 50053, which serves the node's own health servicer): startup
and liveness ask the health service for ``""`` (the process is up: local only, so a dead peer never
restarts a healthy pod); readiness asks for ``qemu_net.ready``, SERVING only while every peer the node's
links need answers over mutual TLS on its peer port (`qemu_net.node.readiness`). Node certificates name
the node and its short pod name ``qnet-<i>.qnet-nodes``. The pod's memory limit reaches the node
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
#: Plaintext, health service only: what Kubernetes' built-in gRPC probes (no TLS) talk to.
PROBE_PORT = 50053
#: The network's certificates in the `qemu_net.security.tls` layout (ca.pem, nodes/, apps/).
TLS_MOUNT = "/etc/qnet-tls"
#: Pods with this label (value "true") may reach the nodes' public gRPC and KME ports.
CLIENT_LABEL = "qemu-net/client"
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
    #: Room for `qnet demo`'s finite-key QKD block (10^8 pulses, about 2.1 GiB estimated at each end).
    memory_limit: str = "3Gi"
    client_args: tuple[str, ...] = DEFAULT_CLIENT_ARGS
    #: How long the client Job waits for all nodes to report SERVING before it gives up.
    client_wait_s: int = 300
    termination_grace_s: int = 15
    extra_labels: dict[str, str] = field(default_factory=dict)
    #: Size of each node's key-pool volume.
    key_store_size: str = "64Mi"
    #: Mutual TLS: mount the network's certificates from Secrets (see `tls_volume`); False: --insecure.
    tls: bool = True
    #: Also emit cert-manager Issuers and Certificates that fill those Secrets (needs cert-manager).
    cert_manager: bool = False
    #: Application identities (besides ``client``) that get a cert-manager Certificate.
    tls_apps: tuple[str, ...] = ()

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

    return {"grpc": {"port": PROBE_PORT, "service": READY_SERVICE}, "periodSeconds": 5, "failureThreshold": 2,
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

    grpc_probe = {"grpc": {"port": PROBE_PORT}}
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
                   {"name": "keys", "mountPath": KEY_STORE_MOUNT}, *tls_mounts(opts)]
    node_volumes += tls_volumes(topo, opts, node=True)
    node_container = {
        "name": "node",
        "image": opts.image,
        "imagePullPolicy": _pull_policy(opts),
        # The image's ENTRYPOINT is `qnet node`; the node name comes from the pod's ordinal.
        "args": ["--topology", TOPOLOGY_PATH, *node_security_args(opts)],
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
            {"name": "grpc-probe", "containerPort": PROBE_PORT, "protocol": "TCP"},
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

    docs.append(network_policy(opts))
    docs.append(disruption_budget(opts))
    docs.extend(cert_manager_resources(topo, opts))

    client_sel = {**_labels(opts, "client"), CLIENT_LABEL: "true"}
    client_mounts = [*mounts, *tls_mounts(opts)]
    client_env = {"env": [{"name": "QNET_TLS_DIR", "value": TLS_MOUNT}]} if opts.tls else {}
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
                                "volumeMounts": client_mounts,
                                **client_env,
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
                                "volumeMounts": client_mounts,
                                **client_env,
                            }
                        ],
                        "volumes": [*volumes, *tls_volumes(topo, opts, node=False)],
                    },
                },
            },
        }
    )
    return docs


# ---------------------------------------------------------------------------------------------------
# The trust boundary: TLS Secrets, probes, NetworkPolicy, disruption budget, cert-manager.


def node_security_args(opts: K8sOptions) -> list[str]:
    """`qnet node` flags of a pod: listen on the pod's interfaces, a plaintext health-only probe port, and
    mutual TLS with the mounted certificates (or --insecure)."""
    tls = ["--tls-dir", TLS_MOUNT] if opts.tls else ["--insecure"]
    return ["--bind", "0.0.0.0", "--probe-port", str(PROBE_PORT), *tls]


def tls_secret_name(opts: K8sOptions, holder: str) -> str:
    """The Secret (type kubernetes.io/tls, with ca.crt) of one node or application."""
    return f"{opts.name}-tls-{holder}"


def tls_mounts(opts: K8sOptions) -> list[dict[str, Any]]:
    return [{"name": "tls", "mountPath": TLS_MOUNT, "readOnly": True}] if opts.tls else []


def tls_volumes(topo: Topology, opts: K8sOptions, *, node: bool) -> list[dict[str, Any]]:
    """One projected volume in the `qemu_net.security.tls` layout, from the per-holder TLS Secrets (made
    by cert-manager, or from `qnet certs` with `tls_secrets`): node pods get every node's certificate
    (a pod learns its name from its ordinal only when it starts), client pods the ``client`` one."""
    if not opts.tls:
        return []
    if node:
        names = [n.name for n in topo.nodes]
        sources = [{"secret": {"name": tls_secret_name(opts, x), "items": [
            {"key": "tls.crt", "path": f"nodes/{x}.pem"}, {"key": "tls.key", "path": f"nodes/{x}.key"},
            *([{"key": "ca.crt", "path": "ca.pem"}] if i == 0 else [])]}} for i, x in enumerate(names)]
    else:
        sources = [{"secret": {"name": tls_secret_name(opts, "client"), "items": [
            {"key": "tls.crt", "path": "apps/client.pem"}, {"key": "tls.key", "path": "apps/client.key"},
            {"key": "ca.crt", "path": "ca.pem"}]}}]
    return [{"name": "tls", "projected": {"sources": sources, "defaultMode": 0o440}}]


def network_policy(opts: K8sOptions) -> dict[str, Any]:
    """Peer port: only this network's node pods. Public gRPC and KME ports: only pods labelled as
    clients (`CLIENT_LABEL`). Probe port (health only, plaintext): anyone, so the kubelet's probes work."""
    node_sel = _selector(opts, "node")
    clients = [{"podSelector": {"matchLabels": {CLIENT_LABEL: "true"}}}]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(opts.service, opts, "node"),
        "spec": {
            "podSelector": {"matchLabels": node_sel},
            "policyTypes": ["Ingress"],
            "ingress": [
                {"from": [{"podSelector": {"matchLabels": node_sel}}],
                 "ports": [{"protocol": "TCP", "port": PEER_PORT}]},
                {"from": clients, "ports": [{"protocol": "TCP", "port": NODE_PORT}]},
                {"from": clients, "ports": [{"protocol": "TCP", "port": KME_PORT}]},
                {"ports": [{"protocol": "TCP", "port": PROBE_PORT}]},
            ],
        },
    }


def disruption_budget(opts: K8sOptions) -> dict[str, Any]:
    """Voluntary disruptions (node drains) take at most one node pod at a time."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _meta(opts.service, opts, "node"),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": _selector(opts, "node")}},
    }


def cert_manager_resources(topo: Topology, opts: K8sOptions) -> list[dict[str, Any]]:
    """With ``cert_manager``: a self-signed root, the network CA and its Issuer, and a Certificate per
    node (DNS: its name, its pod's DNS name, localhost) and per application, each into the Secret
    `tls_volumes` mounts. cert-manager renews them before they expire."""
    if not (opts.tls and opts.cert_manager):
        return []
    api = "cert-manager.io/v1"
    ca_secret = f"{opts.name}-ca"
    docs: list[dict[str, Any]] = [
        {"apiVersion": api, "kind": "Issuer", "metadata": _meta(f"{opts.name}-selfsigned", opts),
         "spec": {"selfSigned": {}}},
        {"apiVersion": api, "kind": "Certificate", "metadata": _meta(ca_secret, opts),
         "spec": {"isCA": True, "commonName": f"{topo.name} network CA", "secretName": ca_secret,
                  "privateKey": {"algorithm": "ECDSA", "size": 256},
                  "issuerRef": {"name": f"{opts.name}-selfsigned", "kind": "Issuer"}}},
        {"apiVersion": api, "kind": "Issuer", "metadata": _meta(f"{opts.name}-ca", opts),
         "spec": {"ca": {"secretName": ca_secret}}},
    ]

    def cert(holder: str, dns: list[str], usages: list[str]) -> dict[str, Any]:
        return {"apiVersion": api, "kind": "Certificate", "metadata": _meta(tls_secret_name(opts, holder), opts),
                "spec": {"secretName": tls_secret_name(opts, holder), "commonName": holder, "dnsNames": dns,
                         "usages": usages, "duration": "2160h", "renewBefore": "360h",
                         "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
                         "issuerRef": {"name": f"{opts.name}-ca", "kind": "Issuer"}}}

    for i, n in enumerate(topo.nodes):
        docs.append(cert(n.name, [n.name, node_host(i, opts), "localhost"],
                         ["digital signature", "server auth", "client auth"]))
    docs += [cert(app, [app], ["digital signature", "client auth"])
             for app in ("client", *[a for a in opts.tls_apps if a != "client"])]
    return docs


def tls_secrets(tls_dir: str | Path, topology: Topology, opts: K8sOptions | None = None) -> list[dict[str, Any]]:
    """Secrets (kubernetes.io/tls with ca.crt) from a `qnet certs` directory, for clusters without
    cert-manager. They hold private keys: apply them, never commit them."""
    import base64

    opts = opts or K8sOptions()
    d = Path(tls_dir)

    def b64(p: Path) -> str:
        return base64.b64encode(p.read_bytes()).decode()

    holders = [(n.name, d / "nodes" / n.name) for n in topology.nodes] + [("client", d / "apps" / "client")]
    return [{"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
             "metadata": _meta(tls_secret_name(opts, h), opts),
             "data": {"tls.crt": b64(stem.with_suffix(".pem")), "tls.key": b64(stem.with_suffix(".key")),
                      "ca.crt": b64(d / "ca.pem")}} for h, stem in holders]


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
    "PROBE_PORT",
    "K8sOptions",
    "cluster_topology",
    "dump_all",
    "node_fqdn",
    "node_host",
    "render_k8s",
    "tls_secrets",
    "write_k8s",
]
