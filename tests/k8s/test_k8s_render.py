"""What an operator relies on in the rendered manifests: any namespace, versioned images, re-rendering to scale."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import qemu_net
from qemu_net.deploy import image as image_mod
from qemu_net.deploy import k8s as k8s_mod
from qemu_net.deploy import validate as v
from qemu_net.network.topology import load_topology

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "deploy" / "topology.yaml"
KV = shutil.which("kubernetes-validate") or str(Path(sys.executable).with_name("kubernetes-validate"))
KUBECTL = shutil.which("kubectl")


def _qnet(*args: str, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "qemu_net.cli.main", *args], capture_output=True, text=True,
                          timeout=120, cwd=REPO, **kw)


def _strict(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KV, "--strict", "-k", v.DEFAULT_K8S_VERSION, *map(str, files)], capture_output=True,
                          text=True, timeout=180)


def _overlay(tmp: Path, namespace: str) -> Path:
    """A base rendered by `qnet deploy k8s` and a kustomize overlay moving it to `namespace`."""
    base = tmp / "base"
    assert _qnet("deploy", "k8s", "--topology", str(SAMPLE), "-o", str(base)).returncode == 0
    overlay = tmp / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "namespace": namespace, "resources": ["../base"]}))
    return overlay


def kustomize(overlay: Path) -> list[dict]:
    """`kubectl kustomize` (the kustomize built into kubectl, as `kubectl apply -k` uses)."""
    out = subprocess.run([KUBECTL, "kustomize", str(overlay)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


@pytest.mark.skipif(KUBECTL is None, reason="kubectl (with kustomize) is not installed")
def test_overlay_into_another_namespace_keeps_every_address_inside_it(tmp_path: Path) -> None:
    """With `namespace: other`, every object moves and no address still names the rendered namespace."""
    docs = kustomize(_overlay(tmp_path, "other"))
    kinds = {d["kind"] for d in docs}
    assert {"Namespace", "ConfigMap", "Service", "StatefulSet", "NetworkPolicy", "Job"} <= kinds
    for d in docs:
        where = d["metadata"]["name"] if d["kind"] == "Namespace" else d["metadata"]["namespace"]
        assert where == "other", d["kind"]
    text = yaml.safe_dump_all(docs)
    assert ".qnet." not in text and "qnet.svc" not in text  # nothing addresses the original namespace
    cm = next(d for d in docs if d["kind"] == "ConfigMap")
    topo = yaml.safe_load(cm["data"]["topology.yaml"])
    assert [n["address"] for n in topo["nodes"]] == [f"qnet-{i}.qnet-nodes:50051" for i in range(3)]
    assert v.check_cross(docs, 3) == []


@pytest.mark.skipif(KUBECTL is None, reason="kubectl (with kustomize) is not installed")
def test_base_and_overlay_pass_kubernetes_validate_strict(tmp_path: Path) -> None:
    """`kubernetes-validate --strict` accepts the rendered base and the namespace overlay's output."""
    overlay = _overlay(tmp_path, "other")
    base_files = sorted(p for p in (tmp_path / "base").glob("*.yaml") if p.name != "kustomization.yaml")
    built = tmp_path / "overlay-built.yaml"
    built_docs = kustomize(overlay)
    built.write_text(yaml.safe_dump_all(built_docs))
    proc = _strict(*base_files, built)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(built_docs) == len(base_files)  # every object of the base, moved (Namespace included)
    assert proc.stdout.count("passed") == len(base_files) + len(built_docs), proc.stdout


def test_probes_liveness_local_readiness_peers_and_memory_limit_from_the_downward_api() -> None:
    """Startup/liveness ask for "" (local), readiness for qemu_net.ready, all on the plaintext probe port
    the node serves its health service on (--probe-port); the memory limit reaches the node."""
    docs = {d["kind"]: d for d in k8s_mod.render_k8s(load_topology(SAMPLE))}
    (c,) = docs["StatefulSet"]["spec"]["template"]["spec"]["containers"]
    assert c["livenessProbe"]["grpc"] == c["startupProbe"]["grpc"] == {"port": 50053}
    assert c["readinessProbe"]["grpc"] == {"port": 50053, "service": "qemu_net.ready"}
    assert c["args"][c["args"].index("--probe-port") + 1] == "50053"
    assert {"name": "grpc-probe", "containerPort": 50053, "protocol": "TCP"} in c["ports"]
    env = {e["name"]: e for e in c["env"]}
    assert env["QNET_MEMORY_LIMIT_BYTES"]["valueFrom"] == {
        "resourceFieldRef": {"containerName": c["name"], "resource": "limits.memory"}}
    assert env["QNET_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}


def test_default_image_is_version_and_source_hash_with_if_not_present() -> None:
    """`qnet deploy k8s` renders localhost/qnet:VERSION-HASH12 of this tree, pulled IfNotPresent."""
    out = _qnet("deploy", "k8s", "--topology", str(SAMPLE))
    assert out.returncode == 0, out.stderr
    docs = [d for d in yaml.safe_load_all(out.stdout) if d]
    containers = [c for d in docs if d["kind"] in ("StatefulSet", "Job")
                  for key in ("initContainers", "containers") for c in d["spec"]["template"]["spec"].get(key, [])]
    tag = f"{qemu_net.__version__}-{image_mod.source_hash()[:12]}"
    assert {c["image"] for c in containers} == {f"localhost/qnet:{tag}"} == {image_mod.default_image()}
    assert {c["imagePullPolicy"] for c in containers} == {"IfNotPresent"}
    # The build script prints the same tag for the same tree.
    tool = subprocess.run([sys.executable, "-m", "qemu_net.deploy.image", "--tag-only", "--root", str(REPO)],
                          capture_output=True, text=True, timeout=60)
    assert tool.stdout.strip() == tag


def test_registry_and_movable_tags() -> None:
    """--registry renders REGISTRY/qnet:VERSION-HASH12; a movable tag is pulled Always."""
    out = _qnet("deploy", "k8s", "--registry", "registry.example.com/team")
    sts = next(d for d in yaml.safe_load_all(out.stdout) if d and d["kind"] == "StatefulSet")
    (c,) = sts["spec"]["template"]["spec"]["containers"]
    assert c["image"] == f"registry.example.com/team/qnet:{image_mod.image_tag()}"
    assert c["imagePullPolicy"] == "IfNotPresent"
    for movable in ("localhost/qnet:dev", "qnet", "reg:5000/qnet:latest", "reg:5000/qnet"):
        assert image_mod.pull_policy(movable) == "Always", movable
    for fixed in ("reg:5000/qnet:0.1.0-0123456789ab", "qnet@sha256:" + "0" * 64):
        assert image_mod.pull_policy(fixed) == "IfNotPresent", fixed
    out = _qnet("deploy", "k8s", "--image", "reg:5000/qnet:latest")
    sts = next(d for d in yaml.safe_load_all(out.stdout) if d and d["kind"] == "StatefulSet")
    assert sts["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "Always"


def test_source_hash_follows_the_image_content_only(tmp_path: Path) -> None:
    """The hash changes when a packaged file changes, not for bytecode or files the image does not copy."""
    (tmp_path / "qemu_net").mkdir()
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "qemu_net" / "__init__.py").write_text('__version__ = "9.8.7"\n')
    (tmp_path / "qemu_net" / "mod.py").write_text("A = 1\n")
    first = image_mod.source_hash(tmp_path)
    assert image_mod.image_tag(tmp_path) == f"9.8.7-{first[:12]}"
    (tmp_path / "qemu_net" / "__pycache__").mkdir()
    (tmp_path / "qemu_net" / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"junk")
    (tmp_path / "notes.txt").write_text("not in the image")
    assert image_mod.source_hash(tmp_path) == first
    (tmp_path / "qemu_net" / "mod.py").write_text("A = 2\n")
    assert image_mod.source_hash(tmp_path) != first


@pytest.mark.parametrize(("kind", "n"), [("chain", 5), ("ring", 4)])
def test_generated_network_renders_one_replica_per_node(tmp_path: Path, kind: str, n: int) -> None:
    """`qnet deploy k8s --chain N` / `--ring N`: N replicas, node i at ordinal i, strictly valid."""
    out = tmp_path / "k8s"
    proc = _qnet("deploy", "k8s", f"--{kind}", str(n), "--length-km", "2", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    docs = v.load_manifests(out)
    sts = next(d for d in docs if d["kind"] == "StatefulSet")
    cm = next(d for d in docs if d["kind"] == "ConfigMap")
    topo = yaml.safe_load(cm["data"]["topology.yaml"])
    assert sts["spec"]["replicas"] == n == len(topo["nodes"])
    assert [x["name"] for x in topo["nodes"]] == [f"n{i}" for i in range(n)]
    assert len(topo["links"]) == (n - 1 if kind == "chain" else n)
    assert all(link["length_km"] == 2 for link in topo["links"])
    assert v.check_cross(docs, n) == []
    files = sorted(p for p in out.glob("*.yaml") if p.name != "kustomization.yaml")
    assert _strict(*files).returncode == 0


def test_generator_and_topology_together_are_refused() -> None:
    """--chain with --topology is a clear error, not a silent choice."""
    proc = _qnet("deploy", "k8s", "--chain", "3", "--topology", str(SAMPLE))
    assert proc.returncode == 2 and "either --topology or --chain" in proc.stderr


def test_certificates_name_the_short_pod_hosts_and_tls_checks_them(tmp_path: Path) -> None:
    """`qnet certs --k8s` certificates (and the cert-manager ones) name qnet-<i>.qnet-nodes; a TLS client
    that checks the host of a short address accepts node i's certificate for its own host only."""
    import grpc
    from concurrent import futures

    from cryptography import x509
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc

    from qemu_net.cli.main import main as qnet
    from qemu_net.deploy.k8s import K8sOptions, cluster_topology, node_host, render_k8s
    from qemu_net.network.topology import load_topology
    from qemu_net.security.tls import channel_credentials, load_credentials, server_credentials

    topo_path = REPO / "deploy" / "topology.yaml"
    topo = load_topology(topo_path)
    assert qnet(["certs", "--topology", str(topo_path), "--k8s", "--out", str(tmp_path / "tls")]) == 0
    opts = K8sOptions()
    for i, n in enumerate(topo.nodes):
        cert = x509.load_pem_x509_certificate((tmp_path / "tls" / "nodes" / f"{n.name}.pem").read_bytes())
        dns = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName)
        assert n.name in dns and node_host(i, opts) in dns, dns
        assert f"{opts.name}-{i}.{opts.service}" == cluster_topology(topo, opts).nodes[i].address.split(":")[0]
    certs = {d["metadata"]["name"]: d["spec"]["dnsNames"] for d in render_k8s(topo, K8sOptions(cert_manager=True))
             if d["kind"] == "Certificate" and "server auth" in d["spec"].get("usages", [])}
    for i, n in enumerate(topo.nodes):
        assert node_host(i, opts) in certs[f"qnet-tls-{n.name}"]

    # A real handshake: node 1's certificate, reached at 127.0.0.1 but checked against the short hosts.
    server = grpc.server(futures.ThreadPoolExecutor(2))
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    port = server.add_secure_port("127.0.0.1:0", server_credentials(load_credentials(tmp_path / "tls",
                                                                                     node=topo.nodes[1].name)))
    server.start()
    client = channel_credentials(load_credentials(tmp_path / "tls"))
    try:
        def check(host: str) -> grpc.StatusCode | None:
            with grpc.secure_channel(f"127.0.0.1:{port}", client,
                                     options=[("grpc.ssl_target_name_override", host)]) as ch:
                try:
                    health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=10)
                except grpc.RpcError as exc:
                    return exc.code()
            return None

        assert check(node_host(1, opts)) is None
        assert check(node_host(2, opts)) == grpc.StatusCode.UNAVAILABLE  # another pod's host: refused
    finally:
        server.stop(None)
