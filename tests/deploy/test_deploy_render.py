"""Compose and Kubernetes files rendered from a topology are valid, consistent and up to date."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from concurrent import futures
from pathlib import Path

import pytest
import yaml

from qemu_net.deploy import compose as compose_mod
from qemu_net.deploy import k8s as k8s_mod
from qemu_net.deploy import validate as v
from qemu_net.network.topology import chain_topology, load_topology

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "deploy" / "topology.yaml"
K8S_VERSION = v.DEFAULT_K8S_VERSION
KV = shutil.which("kubernetes-validate") or str(Path(sys.executable).with_name("kubernetes-validate"))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, int]:
    return v.render_all(str(SAMPLE), tmp_path_factory.mktemp("render"))


def _kv(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KV, "--strict", "-k", K8S_VERSION, *map(str, files)], capture_output=True, text=True, timeout=120
    )


def test_every_k8s_manifest_passes_kubernetes_validate_strict(rendered: tuple[Path, Path, int]) -> None:
    """`kubernetes-validate --strict` accepts every rendered manifest for a current Kubernetes."""
    _, k8s_dir, _ = rendered
    files = sorted(p for p in k8s_dir.glob("*.yaml") if p.name != "kustomization.yaml")
    assert {p.stem for p in files} == {"namespace", "configmap", "service", "statefulset", "networkpolicy", "job",
                                       "poddisruptionbudget"}
    proc = _kv(*files)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("passed") == len(files), proc.stdout


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["spec"].__setitem__("replica", d["spec"].pop("replicas")), "'replica' was unexpected"),
        (lambda d: d["spec"].pop("selector"), "'selector' is a required property"),
        (
            lambda d: d["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["grpc"].__setitem__(
                "prot", 50051
            ),
            "'prot' was unexpected",
        ),
    ],
    ids=["typo-field", "missing-required", "typo-in-probe"],
)
def test_broken_manifest_fails_the_check(rendered: tuple[Path, Path, int], tmp_path: Path, mutate, expected) -> None:
    """A typo'd or missing field makes `kubernetes-validate --strict` (and our validator) fail."""
    _, k8s_dir, _ = rendered
    doc = yaml.safe_load((k8s_dir / "statefulset.yaml").read_text())
    mutate(doc)
    bad = tmp_path / "statefulset.yaml"
    bad.write_text(yaml.safe_dump(doc))
    proc = _kv(bad)
    assert proc.returncode != 0
    assert expected in proc.stdout + proc.stderr
    problem = v.validate_manifest(doc, version=K8S_VERSION)
    assert problem is not None and expected in problem


def test_validate_main_fails_on_a_broken_rendering(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The single CI command exits non-zero when a rendered manifest is invalid."""
    real = k8s_mod.render_k8s

    def broken(*a, **kw):  # type: ignore[no-untyped-def]
        docs = real(*a, **kw)
        next(d for d in docs if d["kind"] == "Service")["spec"]["clusterIp"] = "None"
        return docs

    monkeypatch.setattr(k8s_mod, "render_k8s", broken)
    assert v.main(["--topology", str(SAMPLE), "-o", str(tmp_path)]) == 1
    monkeypatch.setattr(k8s_mod, "render_k8s", real)
    assert v.main(["--topology", str(SAMPLE), "-o", str(tmp_path / "ok")]) == 0


def test_ci_command_passes_and_committed_files_are_fresh() -> None:
    """`python -m qemu_net.deploy.validate --topology deploy/topology.yaml --check-committed` exits 0."""
    proc = subprocess.run(
        [sys.executable, "-m", "qemu_net.deploy.validate", "--topology", str(SAMPLE), "--check-committed"],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "up to date" in proc.stdout


def test_statefulset_ordinals_match_topology_and_dns(rendered: tuple[Path, Path, int]) -> None:
    """Pod i of the StatefulSet is node i; its address is its stable DNS name, peers on 50052."""
    _, k8s_dir, n = rendered
    docs = {d["kind"]: d for d in v.load_manifests(k8s_dir)}
    sts, svc, cm = docs["StatefulSet"], docs["Service"], docs["ConfigMap"]
    assert sts["spec"]["replicas"] == n == len(load_topology(SAMPLE).nodes)
    assert svc["spec"]["clusterIP"] == "None" and svc["spec"]["publishNotReadyAddresses"] is True
    assert set(sts["spec"]["selector"]["matchLabels"].items()) <= set(svc["spec"]["selector"].items())
    topo = yaml.safe_load(cm["data"]["topology.yaml"])
    for i, node in enumerate(topo["nodes"]):
        assert node["name"] == load_topology(SAMPLE).nodes[i].name
        # Namespace-relative names: the same manifests work in any namespace.
        assert node["address"] == f"qnet-{i}.qnet-nodes:50051"
        assert node["peer_address"] == f"qnet-{i}.qnet-nodes:50052"
    assert v.check_cross(list(docs.values()), n) == []


def test_node_pods_have_grpc_probes_resources_and_run_as_non_root(rendered: tuple[Path, Path, int]) -> None:
    """Probes use the standard gRPC health service on the plaintext probe-only port 50053 (the public and
    peer ports need mutual TLS, which Kubernetes' gRPC probes cannot speak); requests and limits are set."""
    _, k8s_dir, _ = rendered
    sts = yaml.safe_load((k8s_dir / "statefulset.yaml").read_text())
    pod = sts["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    for probe in ("startupProbe", "livenessProbe"):  # local: a dead peer never restarts a healthy pod
        assert c[probe]["grpc"] == {"port": 50053}  # the plaintext health-only port (probes cannot speak TLS)
    assert c["readinessProbe"]["grpc"] == {"port": 50053, "service": "qemu_net.ready"}  # linked peers reachable
    args = c["args"]
    assert args[args.index("--probe-port") + 1] == "50053" and args[args.index("--bind") + 1] == "0.0.0.0"
    assert args[args.index("--tls-dir") + 1] == "/etc/qnet-tls" and "--insecure" not in args
    assert {"name": "tls", "mountPath": "/etc/qnet-tls", "readOnly": True} in c["volumeMounts"]
    assert set(c["resources"]) == {"requests", "limits"}
    assert set(c["resources"]["limits"]) == {"cpu", "memory"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert {"name": "QNET_TOPOLOGY", "value": "/etc/qnet/topology.yaml"} in c["env"]
    assert pod["terminationGracePeriodSeconds"] >= 5


def test_network_policy_admits_only_nodes_to_the_peer_port(rendered: tuple[Path, Path, int]) -> None:
    """Port 50052 (PeerService) only from node pods; 50051 (NodeService) only from pods labelled as
    clients (the Job's pods are, node pods are not)."""
    _, k8s_dir, _ = rendered
    docs = {d["kind"]: d for d in v.load_manifests(k8s_dir)}
    np_, sts, job = docs["NetworkPolicy"], docs["StatefulSet"], docs["Job"]
    node_labels = sts["spec"]["template"]["metadata"]["labels"]
    assert np_["spec"]["podSelector"]["matchLabels"].items() <= node_labels.items()
    rules = np_["spec"]["ingress"]
    peer = [r for r in rules if any(p["port"] == 50052 for p in r["ports"])]
    public = [r for r in rules if any(p["port"] == 50051 for p in r["ports"])]
    assert len(peer) == 1 and len(public) == 1
    (src,) = peer[0]["from"]
    assert src["podSelector"]["matchLabels"].items() <= node_labels.items()
    job_labels = job["spec"]["template"]["metadata"]["labels"]
    assert not src["podSelector"]["matchLabels"].items() <= job_labels.items(), "the client must not match"
    (client_src,) = public[0]["from"]
    assert client_src["podSelector"]["matchLabels"] == {"qemu-net/client": "true"}
    assert client_src["podSelector"]["matchLabels"].items() <= job_labels.items()
    assert not client_src["podSelector"]["matchLabels"].items() <= node_labels.items()
    probe = [r for r in rules if any(p["port"] == 50053 for p in r["ports"])]
    assert len(probe) == 1 and "from" not in probe[0] and len(probe[0]["ports"]) == 1


def test_client_job_waits_for_nodes_then_runs_a_protocol(rendered: tuple[Path, Path, int]) -> None:
    _, k8s_dir, _ = rendered
    job = yaml.safe_load((k8s_dir / "job.yaml").read_text())
    spec = job["spec"]["template"]["spec"]
    assert spec["restartPolicy"] == "Never"
    (init,) = spec["initContainers"]
    assert init["command"][-1] == "qemu_net.deploy.healthcheck" and "--topology" in init["args"]
    (client,) = spec["containers"]
    assert client["command"] == ["qnet"]
    assert client["args"] == ["demo", "--topology", "/etc/qnet/topology.yaml", "--remote"]


def test_compose_has_a_healthy_service_per_node(rendered: tuple[Path, Path, int]) -> None:
    """One service per node, topology mounted read-only with service-name addresses."""
    compose_path, _, n = rendered
    assert v.check_compose(compose_path) == []
    doc = yaml.safe_load(compose_path.read_text())
    nodes = load_topology(SAMPLE).node_names
    assert list(doc["services"]) == [*nodes, "client"]
    for name in nodes:
        svc = doc["services"][name]
        (mount,) = svc["volumes"]
        assert mount["read_only"] is True and mount["target"] == "/etc/qnet/topology.yaml"
        assert svc["healthcheck"]["test"][:4] == ["CMD", "python", "-m", "qemu_net.deploy.healthcheck"]
        assert svc["command"][-2:] == ["--name", name]
    mounted = load_topology(compose_path.parent / compose_mod.TOPOLOGY_FILE)
    assert [x.address for x in mounted.nodes] == [f"{x}:50051" for x in nodes]
    assert doc["services"]["client"]["depends_on"] == {x: {"condition": "service_healthy"} for x in nodes}


def test_broken_compose_fails_the_check(rendered: tuple[Path, Path, int], tmp_path: Path) -> None:
    compose_path, _, _ = rendered
    doc = yaml.safe_load(compose_path.read_text())
    doc["services"]["client"]["depends_on"]["nobody"] = {"condition": "service_healthy"}
    doc["services"]["alice"]["healthchek"] = doc["services"]["alice"].pop("healthcheck")
    bad = tmp_path / "compose.yaml"
    bad.write_text(yaml.safe_dump(doc))
    shutil.copy(compose_path.parent / compose_mod.TOPOLOGY_FILE, tmp_path)
    errors = v.check_compose(bad)
    assert any("depends_on.nobody" in e for e in errors)
    assert any("healthchek" in e for e in errors) and any("alice.healthcheck: missing" in e for e in errors)


def test_cli_renders_both_targets(tmp_path: Path) -> None:
    """`qnet deploy compose|k8s` (via cmd_deploy.register/run) writes what the renderers produce."""
    from qemu_net.cli import cmd_deploy

    parser = argparse.ArgumentParser(prog="qnet")
    cmd_deploy.register(parser.add_subparsers(dest="command"))
    topo = tmp_path / "chain.yaml"
    topo.write_text(chain_topology(5).to_yaml())
    args = parser.parse_args(
        ["deploy", "k8s", "--topology", str(topo), "-o", str(tmp_path / "k"), "--namespace", "lab", "--image", "x:1"]
    )
    assert args.func(args) == 0
    docs = v.load_manifests(tmp_path / "k")
    assert v.validate_manifests(docs) == [] and v.check_cross(docs, 5) == []
    sts = next(d for d in docs if d["kind"] == "StatefulSet")
    assert sts["spec"]["replicas"] == 5 and sts["metadata"]["namespace"] == "lab"
    assert sts["spec"]["template"]["spec"]["containers"][0]["image"] == "x:1"
    args = parser.parse_args(["deploy", "compose", "--topology", str(topo), "-o", str(tmp_path / "c" / "dc.yaml")])
    assert args.func(args) == 0
    assert v.check_compose(tmp_path / "c" / "dc.yaml") == []
    bad = tmp_path / "bad.yaml"
    bad.write_text("nodes: [a, a]\n")
    args = parser.parse_args(["deploy", "k8s", "--topology", str(bad)])
    assert args.func(args) == 2


def test_healthcheck_reports_serving_and_not_serving() -> None:
    """The container health probe exits 0 only while the standard health service says SERVING."""
    import grpc
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc

    from qemu_net.deploy import healthcheck

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), options=[("grpc.so_reuseport", 0)])
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        addr = f"127.0.0.1:{port}"
        servicer.set("", health_pb2.HealthCheckResponse.SERVING)
        assert healthcheck.main([addr]) == 0
        assert healthcheck.wait_all([addr], wait_s=5, log=lambda *_: None)
        servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
        assert healthcheck.main([addr]) == 1
        assert not healthcheck.wait_all([addr], wait_s=1.5, log=lambda *_: None)
    finally:
        server.stop(None)


def test_pods_mount_tls_secrets_and_a_disruption_budget_bounds_drains(rendered: tuple[Path, Path, int]) -> None:
    """Node pods get every node certificate from the qnet-tls-<node> Secrets in the qnet certs layout; the
    client Job gets the client certificate and QNET_TLS_DIR; at most one node pod is voluntarily down."""
    _, k8s_dir, _ = rendered
    docs = {d["kind"]: d for d in v.load_manifests(k8s_dir)}
    nodes = load_topology(SAMPLE).node_names
    pod = docs["StatefulSet"]["spec"]["template"]["spec"]
    (tls,) = [vol for vol in pod["volumes"] if vol["name"] == "tls"]
    paths = {item["path"] for src in tls["projected"]["sources"] for item in src["secret"]["items"]}
    assert paths == {"ca.pem", *(f"nodes/{x}.{e}" for x in nodes for e in ("pem", "key"))}
    assert [src["secret"]["name"] for src in tls["projected"]["sources"]] == [f"qnet-tls-{x}" for x in nodes]
    job = docs["Job"]["spec"]["template"]["spec"]
    (jtls,) = [vol for vol in job["volumes"] if vol["name"] == "tls"]
    assert {i["path"] for s in jtls["projected"]["sources"] for i in s["secret"]["items"]} == {
        "ca.pem", "apps/client.pem", "apps/client.key"}
    for c in [*job["initContainers"], *job["containers"]]:
        assert {"name": "QNET_TLS_DIR", "value": "/etc/qnet-tls"} in c["env"]
    pdb = docs["PodDisruptionBudget"]
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"].items() <= docs["StatefulSet"]["spec"]["template"]["metadata"][
        "labels"].items()


def test_cert_manager_and_secret_rendering(tmp_path: Path) -> None:
    """--cert-manager adds the CA and one Certificate per node and for the client, into the mounted Secrets;
    tls_secrets turns a qnet certs directory into those Secrets."""
    import base64

    from qemu_net.deploy import k8s
    from qemu_net.security.tls import write_network_certs

    topo = load_topology(SAMPLE)
    docs = k8s.render_k8s(topo, k8s.K8sOptions(cert_manager=True))
    certs = {d["spec"]["secretName"]: d for d in docs if d["kind"] == "Certificate"}
    assert set(certs) == {"qnet-ca", "qnet-tls-client", *(f"qnet-tls-{x}" for x in topo.node_names)}
    assert certs["qnet-ca"]["spec"]["isCA"] is True
    # The node and its namespace-relative pod host (its address in the ConfigMap); no namespace, so the
    # same Certificates serve in any namespace an overlay moves them to.
    assert certs[f"qnet-tls-{topo.node_names[0]}"]["spec"]["dnsNames"] == [topo.node_names[0], "qnet-0.qnet-nodes",
                                                                        "localhost"]
    assert "server auth" not in certs["qnet-tls-client"]["spec"]["usages"]
    write_network_certs(topo, tmp_path)
    secrets = k8s.tls_secrets(tmp_path, topo)
    assert [s["metadata"]["name"] for s in secrets] == [*(f"qnet-tls-{x}" for x in topo.node_names), "qnet-tls-client"]
    first = secrets[0]["data"]
    assert base64.b64decode(first["tls.crt"]) == (tmp_path / "nodes" / f"{topo.node_names[0]}.pem").read_bytes()
    assert base64.b64decode(first["ca.crt"]) == (tmp_path / "ca.pem").read_bytes()
    assert v.validate_manifests(secrets) == []


def test_compose_nodes_use_tls_secrets_and_the_probe_port(rendered: tuple[Path, Path, int]) -> None:
    """Each node gets the CA and its own certificate and key (no other node's key) as compose secrets, listens
    on all interfaces with TLS, and is health-checked on the plaintext probe port; the client gets `client`."""
    compose_path, _, _ = rendered
    doc = yaml.safe_load(compose_path.read_text())
    nodes = load_topology(SAMPLE).node_names
    for name in nodes:
        svc = doc["services"][name]
        assert {s["target"] for s in svc["secrets"]} == {
            "/etc/qnet-tls/ca.pem", f"/etc/qnet-tls/nodes/{name}.pem", f"/etc/qnet-tls/nodes/{name}.key"}
        cmd = svc["command"]
        assert cmd[cmd.index("--tls-dir") + 1] == "/etc/qnet-tls" and cmd[cmd.index("--bind") + 1] == "0.0.0.0"
        assert svc["healthcheck"]["test"][-1] == "127.0.0.1:50053"
    client = doc["services"]["client"]
    assert client["environment"] == {"QNET_TLS_DIR": "/etc/qnet-tls"}
    assert {s["source"] for s in client["secrets"]} == {"ca", "client-cert", "client-key"}
    assert doc["secrets"]["alice-key"]["file"] == "./qnet-tls/nodes/alice.key"


def test_short_topology_flag_as_the_readme_shows(tmp_path: Path) -> None:
    """`qnet deploy compose -t FILE` and `qnet deploy k8s -t FILE` (the README's spelling) render the file's nodes."""
    from qemu_net.cli.main import main

    topo = tmp_path / "chain.yaml"
    topo.write_text(chain_topology(3).to_yaml())
    assert main(["deploy", "k8s", "-t", str(topo), "-o", str(tmp_path / "k"), "--image", "x:1"]) == 0
    sts = next(d for d in v.load_manifests(tmp_path / "k") if d["kind"] == "StatefulSet")
    assert sts["spec"]["replicas"] == 3
    assert main(["deploy", "compose", "-t", str(topo), "-o", str(tmp_path / "c" / "dc.yaml")]) == 0
    assert v.check_compose(tmp_path / "c" / "dc.yaml") == []
    assert (tmp_path / "c" / "dc.yaml").read_text().count("n2") >= 1
