"""Protocols across hosts: each node process in its own network namespace, addressed by host name,
joined through a bridge; then the same with 5 % random packet loss injected on the bridge."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from netns_harness import NetnsLab, QnetCluster, nft_unusable_reason

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QnetCluster]:
    lab = NetnsLab(hosts=["alice", "repeater", "bob", "client"], workdir=tmp_path_factory.mktemp("netns"))
    with lab:
        yield QnetCluster.start(lab)


@pytest.fixture(params=[0, 5], ids=["no-loss", "5pct-loss"])
def loss(request: pytest.FixtureRequest, cluster: QnetCluster) -> Iterator[int]:
    """Run the test without loss, then with 5 % of frames dropped at random on the bridge."""
    if request.param:
        reason = nft_unusable_reason()
        if reason:
            pytest.skip(reason)
    cluster.lab.set_loss(request.param)
    try:
        yield request.param
        if request.param:
            seen, dropped = cluster.lab.frame_counts()
            assert seen > 0, "no frame crossed the bridge: the test's traffic bypassed the lossy link"
            # With >= 200 frames, dropping none at 5 % has probability 0.95^200 < 4e-5.
            assert seen < 200 or dropped > 0, f"the loss rule dropped nothing of {seen} frames"
    finally:
        cluster.lab.set_loss(0)


def test_teleportation_across_namespaces(cluster: QnetCluster, loss: int) -> None:
    """Qubits teleported alice -> repeater arrive in exactly the state sent."""
    out = cluster.client("teleport", 4, timeout_s=240)
    assert len(out["fidelities"]) == 4
    assert min(out["fidelities"]) > 0.999, out


def test_entanglement_swap_across_three_namespaces(cluster: QnetCluster, loss: int) -> None:
    """After a Bell measurement at the repeater, alice's and bob's qubits agree in Z and in X."""
    out = cluster.client("swap", 6, timeout_s=300)
    assert out["agree"] == [True] * 6, out


def test_qkd_session_across_namespaces(cluster: QnetCluster, loss: int) -> None:
    """An entanglement-based key session sifts about half the pairs with zero errors (noiseless links)."""
    out = cluster.client("qkd", 2000, timeout_s=240)
    assert out["bases_intact"] is True
    assert 850 <= out["sifted"] <= 1150, out
    assert out["qber"] == 0.0, out


def test_swap_roles_across_three_namespaces(cluster: QnetCluster, loss: int) -> None:
    """The repeater protocol's roles (one per namespace) deliver alice--bob pairs that agree in Z and X."""
    out = cluster.client("swap-roles", 8, timeout_s=300)
    assert out["agree"] == [True] * 8, out
    assert out["swaps"] == 8 and out["epr_pairs"] == 16, out


def test_qkd_roles_across_namespaces(cluster: QnetCluster, loss: int) -> None:
    """Decoy BB84 run by the nodes' own roles yields a key; both ends deliver identical keys by id."""
    out = cluster.client("qkd-roles", 400_000, timeout_s=300)
    assert out["aborted"] in (None, ""), out
    assert out["final_bits"] > 512 and out["keys_match"] is True, out


def test_classical_messages_neither_lost_nor_duplicated(cluster: QnetCluster, loss: int) -> None:
    """Numbered classical messages arrive exactly once each, in order, with or without packet loss."""
    t0 = time.monotonic()
    out = cluster.client("classical", 40, timeout_s=240)
    assert out["received"] == list(range(40)), out
    assert out["extra"] is None and out["extra_error"] is not None, out
    assert time.monotonic() - t0 < 240


def test_classical_messages_survive_heavy_loss(cluster: QnetCluster) -> None:
    """With 30 % of the frames on the bridge dropped, a classical send keeps resending until its caller's
    deadline (60 s for this client), not for a fixed time, and every message still arrives exactly once,
    in order."""
    reason = nft_unusable_reason()
    if reason:
        pytest.skip(reason)
    cluster.lab.set_loss(30)
    try:
        out = cluster.client("classical", 12, timeout_s=400)
        seen, dropped = cluster.lab.frame_counts()
    finally:
        cluster.lab.set_loss(0)
    assert seen > 0 and dropped > 0, (seen, dropped)
    assert out["received"] == list(range(12)), out
    assert out["extra"] is None and out["extra_error"] is not None, out
