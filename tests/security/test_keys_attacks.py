"""Key-delivery attacks, each now refused (PERMISSION_DENIED / INVALID_ARGUMENT) with the victim's keys
unchanged: forged reservations, an attacker's application id, two masters cutting the same bits, key
bytes left in memory, and a crafted reservation that used to crash the node (RecursionError)."""

from __future__ import annotations

import json
import threading
import uuid

import grpc
import numpy as np
import pytest
from keyharness import Aborted, code_of, get_keys, get_keys_with_ids, make_pair

from qemu_net.errors import InvalidOperation, PermissionDenied, QnetError
from qemu_net.node.key_delivery import RESERVATION_CHANNEL, node_keys
from qemu_net.node.mailbox import Message


def _reservation(sender: str, items: list) -> Message:
    return Message(sender, RESERVATION_CHANNEL, int(uuid.uuid4().int & 0xFFFFFFFF), json.dumps(items).encode(), 0, 0)


def test_master_and_named_slave_get_the_same_key_once_and_nobody_else_does():
    """The slave named by the master gets the key once; another admitted application, one the topology does
    not admit, a caller without a certificate and a node identity are all refused -- and the slave's key
    afterwards is still exactly the master's."""
    cores, sv, _ = make_pair()
    (key,) = get_keys(sv["alice"], "sae-a", "bob", slave="sae-b").keys
    for who, code in (("sae-c", grpc.StatusCode.PERMISSION_DENIED), ("evil", grpc.StatusCode.PERMISSION_DENIED),
                      (None, grpc.StatusCode.PERMISSION_DENIED), ("alice", grpc.StatusCode.PERMISSION_DENIED)):
        with pytest.raises(Aborted) as err:
            get_keys_with_ids(sv["bob"], who, "alice", [key.key_id])
        assert err.value.code == code, who
    (got,) = get_keys_with_ids(sv["bob"], "sae-b", "alice", [key.key_id]).keys
    assert got.key == key.key and got.key_id == key.key_id
    with pytest.raises(Aborted) as err:  # once only
        get_keys_with_ids(sv["bob"], "sae-b", "alice", [key.key_id])
    assert err.value.code == grpc.StatusCode.NOT_FOUND
    # A master the topology does not admit gets nothing either.
    with pytest.raises(Aborted) as err:
        get_keys(sv["alice"], "evil", "bob")
    assert err.value.code == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(Aborted) as err:
        get_keys(sv["alice"], None, "bob")
    assert err.value.code == grpc.StatusCode.PERMISSION_DENIED


def test_reservations_only_from_the_node_at_the_links_other_end():
    """mallory (a node, but not at the other end of bob's link with alice... nor linked to bob at all) cannot
    reserve keys at bob: PERMISSION_DENIED, and bob's pool is untouched."""
    cores, sv, _ = make_pair()
    store = node_keys(cores["bob"]).store
    before = store.available_bits("alice")
    forged = _reservation("mallory", [[str(uuid.uuid4()), "s1", 0, 256, "", "evil"]])
    with pytest.raises(PermissionDenied):
        cores["bob"].on_deliver_classical(forged)
    assert store.available_bits("alice") == before and store.status("alice")["pending_keys"] == 0


def test_a_forged_reservation_never_yields_the_key_alices_application_gets():
    """A reservation forged as coming from alice (plaintext network, no key_consumers: the weakest setting)
    cuts bits at bob for an attacker's id. alice's own master can then never be handed those bits: bob
    refuses the crossing reservation, so alice's application gets an error or other bits -- never a key
    the attacker also holds."""
    cores, sv, _ = make_pair(consumers=None, bits=512)
    attacker_id = str(uuid.uuid4())
    cores["bob"].on_deliver_classical(_reservation("alice", [[attacker_id, "s1", 0, 256, "", ""]]))
    (stolen,) = get_keys_with_ids(sv["bob"], None, "alice", [attacker_id]).keys
    victim_keys = []
    for _ in range(2):  # alice cuts from the start of the session: exactly the forged bits
        try:
            victim_keys.extend(get_keys(sv["alice"], None, "bob").keys)
        except Aborted as exc:
            assert exc.code == grpc.StatusCode.INVALID_ARGUMENT, exc
    assert all(k.key != stolen.key for k in victim_keys)
    # Whatever alice's application did get, bob's slave gets the same.
    for k in victim_keys:
        assert get_keys_with_ids(sv["bob"], None, "alice", [k.key_id]).keys[0].key == k.key


def test_two_masters_at_both_ends_never_get_the_same_bits():
    """Masters at alice and bob drain the same 1024-bit session at once, many rounds: every key either end
    handed out is distinct, and each was received by the other end's store (no bits given to two masters)."""
    for round_ in range(20):
        cores, sv, _ = make_pair(consumers=None, bits=1024, seed=round_)
        got: dict[str, list] = {"alice": [], "bob": []}
        errors: list[BaseException] = []

        def master(node: str, peer: str) -> None:
            for _ in range(4):
                try:
                    got[node].extend(get_keys(sv[node], None, peer).keys)
                except Aborted as exc:
                    if exc.code not in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED):
                        errors.append(exc)

        threads = [threading.Thread(target=master, args=("alice", "bob")),
                   threading.Thread(target=master, args=("bob", "alice"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert not errors, errors
        keys_a = {bytes(k.key) for k in got["alice"]}
        keys_b = {bytes(k.key) for k in got["bob"]}
        assert keys_a.isdisjoint(keys_b), round_
        assert len(keys_a) + len(keys_b) <= 4  # 1024 bits: at most four 256-bit keys in all
        # Each end's slave finds each key of the other end's master.
        for node, peer in (("alice", "bob"), ("bob", "alice")):
            for key in got[node]:
                assert get_keys_with_ids(sv[peer], None, node, [key.key_id]).keys[0].key == key.key


def test_delivered_key_bytes_do_not_stay_in_the_nodes_memory(monkeypatch):
    """After delivery the bits cut from the pools at both ends read zero, nothing is pending, and the key
    buffers the stores handed out are overwritten; the applications still got identical keys."""
    cores, sv, key = make_pair()
    handed = []
    for node in ("alice", "bob"):
        store = node_keys(cores[node]).store
        for name in ("get_keys", "get_keys_with_ids"):
            real = getattr(store, name)

            def spy(*a, _real=real, **kw):  # noqa: ANN002, ANN003, ANN202
                out = _real(*a, **kw)
                handed.extend(out)
                return out

            monkeypatch.setattr(store, name, spy)
    master = get_keys(sv["alice"], "sae-a", "bob", number=3).keys
    slave = get_keys_with_ids(sv["bob"], "sae-b", "alice", [k.key_id for k in master]).keys
    assert [k.key for k in slave] == [k.key for k in master] and len({k.key for k in master}) == 3
    assert len(handed) == 6 and all(not any(h.key) for h in handed)  # every buffer is zeros now
    for node, peer in (("alice", "bob"), ("bob", "alice")):
        s = node_keys(cores[node]).store._sessions[peer]["s1"]
        used = np.flatnonzero(s.used)
        assert len(used) == 3 * 256 and not s.bits[used].any()  # cut bits overwritten in the pool
        assert node_keys(cores[node]).store.status(peer)["pending_keys"] == 0
    # The raw session key's bytes of those keys are nowhere in the stores any more.
    for k in master:
        for node, peer in (("alice", "bob"), ("bob", "alice")):
            packed = np.packbits(node_keys(cores[node]).store._sessions[peer]["s1"].bits).tobytes()
            assert k.key not in packed


@pytest.mark.parametrize("payload", [
    b"[" * 200_000 + b"]" * 200_000,                       # the crash: RecursionError in the JSON parser
    b"[" * 50_000,
    b'{"a": 1}',
    b"[]",
    b'[["not-a-uuid", "s1", 0, 256]]',
    b'[[1, 2, 3, 4]]',
    json.dumps([[str(uuid.uuid4()), "s1", True, 256]]).encode(),
    json.dumps([[str(uuid.uuid4()), "s1", -8, 256]]).encode(),
    json.dumps([[str(uuid.uuid4()), "s1", 0, 10**30]]).encode(),
    json.dumps([[str(uuid.uuid4()), "s1", 0, 256, ["nested"], ""]]).encode(),
    json.dumps([[str(uuid.uuid4()), "s1", 0, 256]] * 5000).encode(),
    b"\xff\xfe garbage",
])
def test_a_crafted_reservation_is_invalid_argument_and_changes_nothing(payload):
    """Malformed reservations (deep nesting, wrong shapes and types, out of range, too many) are refused
    with INVALID_ARGUMENT -- never INTERNAL -- and bob's pool and later deliveries are unchanged."""
    cores, sv, _ = make_pair()
    store = node_keys(cores["bob"]).store
    before = store.available_bits("alice")
    msg = Message("alice", RESERVATION_CHANNEL, 7, payload, 0, 0)
    with pytest.raises(QnetError) as err:
        cores["bob"].on_deliver_classical(msg)
    assert isinstance(err.value, InvalidOperation) and code_of(err.value) == grpc.StatusCode.INVALID_ARGUMENT
    assert store.available_bits("alice") == before
    (key,) = get_keys(sv["alice"], "sae-a", "bob").keys
    assert get_keys_with_ids(sv["bob"], "sae-b", "alice", [key.key_id]).keys[0].key == key.key
