"""Key delivery in the spirit of ETSI GS QKD 014: master gets keys, the peer fetches the same by id."""

import threading

import pytest

from qemu_net.errors import InvalidOperation, KeyNotFound
from qemu_net.qkd import BB84Params, KeysExhausted, KeyStore, bb84_alice, bb84_bob
from qemu_net.qkd.keystore import reservations_from_json, reservations_to_json

from helpers_qkd import run_pair, two_nodes


@pytest.fixture(scope="module")
def session():
    topo = two_nodes(length_km=1, detector_efficiency=0.5, misalignment_error=0.01)
    return run_pair(topo, bb84_alice, bb84_bob, BB84Params(peer="bob", n_pulses=3_000_000, session_id="ks", p_z=0.6),
                    BB84Params(peer="alice", session_id="ks"), seed=5)


def stores(session):
    a, b = session
    ka, kb = KeyStore("alice"), KeyStore("bob")
    ka.add_result(a)
    kb.add_result(b)
    return ka, kb


def test_master_and_slave_get_identical_keys(session):
    """Keys fetched by id at the peer equal the master's; each id is served once."""
    ka, kb = stores(session)
    got = ka.get_keys("bob", 4, 256)
    assert len({k.key_id for k in got}) == 4 and all(len(k.key) == 32 for k in got)
    wire = reservations_to_json(ka.reservations("bob", [k.key_id for k in got]))
    assert b"key" not in wire.replace(b"key_id", b"")  # positions only, no key material
    kb.accept_reservations("alice", reservations_from_json(wire))
    peer = kb.get_keys_with_ids("alice", [k.key_id for k in got])
    assert [k.key for k in peer] == [k.key for k in got]
    assert "key=" not in repr(got[0])
    with pytest.raises(KeyNotFound, match="no key with id"):
        kb.get_keys_with_ids("alice", [got[0].key_id])


def test_both_ends_as_master_never_share_bits(session):
    """Alice cuts from the front, Bob from the back: no bit is handed out twice."""
    ka, kb = stores(session)
    total = ka.available_bits("bob")
    ka_keys = ka.get_keys("bob", 2, 512)
    kb_keys = kb.get_keys("alice", 2, 512)
    kb.accept_reservations("alice", ka.reservations("bob", [k.key_id for k in ka_keys]))
    ka.accept_reservations("bob", kb.reservations("alice", [k.key_id for k in kb_keys]))
    assert ka.available_bits("bob") == kb.available_bits("alice") == total - 2048
    assert {k.key for k in ka_keys}.isdisjoint({k.key for k in kb_keys})


def test_asking_for_more_than_stored_is_a_clear_error(session):
    """More keys than the store holds: KeysExhausted naming what is available; nothing consumed."""
    ka, _ = stores(session)
    have = ka.available_bits("bob")
    with pytest.raises(KeysExhausted, match="unused bits stored"):
        ka.get_keys("bob", have // 256 + 1, 256)
    assert ka.available_bits("bob") == have
    with pytest.raises(KeysExhausted):
        ka.get_keys("carol", 1, 256)
    with pytest.raises(InvalidOperation, match="multiple of 8"):
        ka.get_keys("bob", 1, 100)
    with pytest.raises(InvalidOperation, match="at least one"):
        ka.get_keys("bob", 0, 256)


def test_concurrent_requests_hand_out_distinct_keys(session):
    """Eight threads drawing keys at once never receive the same bits."""
    ka, _ = stores(session)
    out, lock = [], threading.Lock()

    def worker():
        for _ in range(5):
            keys = ka.get_keys("bob", 1, 128)
            with lock:
                out.extend(keys)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(out) == 40 and len({k.key_id for k in out}) == 40
    ids = ka.reservations("bob", [k.key_id for k in out])
    spans = sorted((r.offset_bits, r.offset_bits + r.size_bits) for r in ids)
    assert all(e <= s for (_, e), (s, _) in zip(spans, spans[1:]))


def test_aborted_sessions_are_not_stored(session):
    """Only a successful session's key enters the store."""
    import dataclasses

    a, _ = session
    bad = dataclasses.replace(a, final_bits=0, key=b"", aborted="QBER too high")
    with pytest.raises(InvalidOperation, match="produced no key"):
        KeyStore("alice").add_result(bad)


def test_public_api_is_curated():
    """qemu_net.qkd exports exactly the roles, their params/result and the key store API."""
    import qemu_net.qkd as qkd

    assert sorted(qkd.__all__) == [
        "BB84Params", "DeliveredKey", "E91Params", "KeyReservation", "KeyStore", "KeysExhausted",
        "QkdResult", "bb84_alice", "bb84_bob", "e91_alice", "e91_bob",
    ]
    for name in qkd.__all__:
        assert getattr(qkd, name) is not None
