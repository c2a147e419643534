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
    assert {p.stem for p in files} == {"namespace", "configmap", "service", "statefulset", "networkpolicy", "job"}
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
    """Probes use the standard gRPC health service on 50051; requests and limits are set."""
    _, k8s_dir, _ = rendered
    sts = yaml.safe_load((k8s_dir / "statefulset.yaml").read_text())
    pod = sts["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    for probe in ("startupProbe", "livenessProbe"):  # local: a dead peer never restarts a healthy pod
        assert c[probe]["grpc"] == {"port": 50051}
    assert c["readinessProbe"]["grpc"] == {"port": 50051, "service": "qemu_net.ready"}  # linked peers reachable
    assert set(c["resources"]) == {"requests", "limits"}
    assert set(c["resources"]["limits"]) == {"cpu", "memory"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert {"name": "QNET_TOPOLOGY", "value": "/etc/qnet/topology.yaml"} in c["env"]
    assert pod["terminationGracePeriodSeconds"] >= 5


def test_network_policy_admits_only_nodes_to_the_peer_port(rendered: tuple[Path, Path, int]) -> None:
    """Port 50052 (PeerService) only from node pods; 50051 (NodeService) from any client."""
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
    assert "from" not in public[0]


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
