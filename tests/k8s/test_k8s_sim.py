"""The node image and the Kubernetes simulation, really run: an overlay into another namespace works, the
image carries no build CA, and the host's firewall is the same before and after.

Builds the image with deploy/build-image.sh when this tree's tag is missing (minutes on a fresh
machine: debootstrap, then the dependency layer; seconds after a source change) and plays the manifests
with deploy/run-k8s-sim.sh (about a minute). Needs root, podman and ip netns; `containers` marker.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

from qemu_net.deploy.image import default_image

REPO = Path(__file__).resolve().parents[2]
NEEDS = [t for t in ("podman", "ip", "kubectl") if shutil.which(t) is None]
pytestmark = [
    pytest.mark.containers,
    pytest.mark.timeout(3600),  # a first image build from nothing takes minutes on a busy 2-core machine
    pytest.mark.skipif(os.geteuid() != 0 or bool(NEEDS), reason=f"needs root and {', '.join(NEEDS) or 'tools'}"),
]


@pytest.fixture(scope="module")
def image() -> str:
    img = default_image()
    if subprocess.run(["podman", "image", "exists", img], timeout=60).returncode != 0:
        build = subprocess.run([str(REPO / "deploy" / "build-image.sh")], capture_output=True, text=True,
                               timeout=1800)
        assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
        assert build.stdout.strip().splitlines()[-1] == img
    return img


def _with_our_python() -> str:
    """PATH with this interpreter's directory first: the script runs `python3 -m qemu_net...` on the host,
    which must be the environment the tests run in (activated or not)."""
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def _firewall() -> dict[str, str]:
    """The host's rulesets, with packet/byte counters (which traffic changes) left out."""
    out = {}
    if shutil.which("nft"):
        r = subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        out["nft"] = re.sub(r"packets \d+ bytes \d+", "", r.stdout)
    for tool in ("iptables-save", "ip6tables-save"):
        if shutil.which(tool):
            r = subprocess.run([tool], capture_output=True, text=True, timeout=60)
            lines = [ln for ln in r.stdout.splitlines() if not ln.startswith("#")]
            out[tool] = re.sub(r"\[\d+:\d+\]", "", "\n".join(lines))
    return out


def _leftovers(tag_prefix: str = "qk") -> tuple[list[str], list[str]]:
    ns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=30).stdout.split("\n")
    ctr = subprocess.run(["podman", "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True,
                         timeout=60).stdout.split()
    return [n for n in ns if n.startswith(tag_prefix)], [c for c in ctr if c.startswith(tag_prefix)]


def test_image_keeps_no_build_ca(image: str, tmp_path: Path) -> None:
    """No /run/qnet-build-ca.crt (nor any secret) in the image: the CA was a build secret, not a bind mount."""
    cid = subprocess.run(["podman", "create", "--runtime", "runc", image], capture_output=True, text=True,
                         timeout=120, check=True).stdout.strip()
    try:
        tar_path = tmp_path / "rootfs.tar"
        with tar_path.open("wb") as f:
            subprocess.run(["podman", "export", cid], stdout=f, timeout=600, check=True)
        with tarfile.open(tar_path) as tar:
            names = {n.lstrip("./") for n in tar.getnames()}
    finally:
        subprocess.run(["podman", "rm", "-f", cid], capture_output=True, timeout=120)
    assert "opt/qnet/bin/qnet" in names  # the listing is the image's
    assert not [n for n in names if "qnet-build-ca" in n or n.startswith("run/secrets/")]
    assert not [n for n in names if n.endswith(".pem") and "ca" in n.rsplit("/", 1)[-1] and n.startswith("run/")]


def test_overlay_into_another_namespace_runs_in_the_simulation_and_leaves_the_host_firewall(
        image: str, tmp_path: Path) -> None:
    """A kustomize overlay `namespace: other` plays end to end (ready pods, the demo Job); rulesets identical."""
    base, overlay = tmp_path / "base", tmp_path / "overlay"
    r = subprocess.run([sys.executable, "-m", "qemu_net.cli.main", "deploy", "k8s", "--topology",
                        str(REPO / "deploy" / "topology.yaml"), "-o", str(base)],
                       capture_output=True, text=True, timeout=120, cwd=REPO,
                       env={**os.environ, "PYTHONPATH": str(REPO)})
    assert r.returncode == 0, r.stderr
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "namespace": "other", "resources": ["../base"]}))
    before = _firewall()
    pre_ns, pre_ctr = _leftovers()
    sim = subprocess.run([str(REPO / "deploy" / "run-k8s-sim.sh"), str(overlay)], capture_output=True, text=True,
                         timeout=900, env={**os.environ, "QNET_IMAGE": image, "PATH": _with_our_python()})
    after = _firewall()
    log = sim.stdout + sim.stderr
    assert sim.returncode == 0, log[-6000:]
    assert "3 pods behind qnet-nodes.other" in log
    assert "readiness probe (health service qemu_net.ready)" in log and "all pods ready after" in log
    for i in range(3):
        assert f"qnet-{i}.qnet-nodes:50051: SERVING" in log  # the Job's wait, over mutual TLS
        assert f"qnet-{i}.qnet-nodes:50053: SERVING" in log  # readiness, on the plaintext probe port
    assert "teleport" in log and "1.000 ± 0.000" in log and "fetched them by id: identical" in log
    assert re.search(r"qnet-2: SIGTERM -> exited in [\d.]+ s with code 0", log)
    assert after == before  # nothing added to (or left in) the host's nft/iptables rulesets
    assert _leftovers() == (pre_ns, pre_ctr)
