"""Durable key pools: a store reopened from its directory holds exactly the unused bits it held."""

import os
import stat

import numpy as np
import pytest

from qemu_net.errors import InvalidOperation, KeysExhausted
from qemu_net.qkd import KeyStore


def test_reopened_stores_keep_sessions_and_used_bits(tmp_path):
    """Both ends persist; after 'restarting' both, keys cut before are gone for good, the rest of the
    pool is intact and master/slave still agree on new keys."""
    rng = np.random.default_rng(1)
    key = np.packbits(rng.integers(0, 2, 4096).astype(np.uint8)).tobytes()
    a, b = KeyStore("alice", tmp_path / "a"), KeyStore("bob", tmp_path / "b")
    a.add_key("bob", "s1", key, 4096)
    b.add_key("alice", "s1", key, 4096)
    first = a.get_keys("bob", 2, 256)
    b.accept_reservations("alice", a.reservations("bob", [k.key_id for k in first]))
    assert [k.key for k in b.get_keys_with_ids("alice", [k.key_id for k in first])] == [k.key for k in first]
    a2, b2 = KeyStore("alice", tmp_path / "a"), KeyStore("bob", tmp_path / "b")
    assert a2.available_bits("bob") == b2.available_bits("alice") == 4096 - 512
    nxt = a2.get_keys("bob", 1, 256)
    b2.accept_reservations("alice", a2.reservations("bob", [nxt[0].key_id]))
    got = b2.get_keys_with_ids("alice", [nxt[0].key_id])[0].key
    assert got == nxt[0].key and got not in {k.key for k in first}
    f = tmp_path / "a" / "bob" / "s1.npz"
    assert stat.S_IMODE(os.stat(f).st_mode) == 0o600
    with pytest.raises(KeysExhausted):
        KeyStore("alice", tmp_path / "a").get_keys("bob", 1, 4096)


def test_unsafe_session_names_are_refused_on_disk(tmp_path):
    s = KeyStore("alice", tmp_path)
    with pytest.raises(InvalidOperation, match="unsafe"):
        s.add_key("bob", "../escape", b"\x01", 8)
