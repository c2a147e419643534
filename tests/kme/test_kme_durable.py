"""Keys survive a restart: node processes stopped and started again on the same key-store directory
hold the same unused key, and what one end cut before the restart is never handed out again."""

from __future__ import annotations

import os

from qemu_net.client import qkd
from qemu_net.network.topology import parse_topology
from tests.conftest import running

TOPO = parse_topology({"name": "durable", "nodes": ["u", "v"],
                       "links": [{"nodes": ["u", "v"], "length_km": 1, "detector_efficiency": 0.85}]})


def test_pools_survive_a_restart_of_both_nodes(tmp_path):
    saved = os.environ.get("QNET_KEY_STORE_DIR")
    os.environ["QNET_KEY_STORE_DIR"] = str(tmp_path)
    try:
        with running(TOPO, allow_inspect=False) as (_local, net):
            s = qkd.run_qkd(net, "u", "v", "bb84", n_pulses=2_000_000, timeout_s=120)
            assert s.succeeded
            before = qkd.get_keys(net["u"], "v", number=2, size_bits=256)
            got = qkd.get_keys_with_ids(net["v"], "u", [k.key_id for k in before])
            assert [k.key for k in got] == [k.key for k in before]
            level = qkd.key_status(net["u"], "v").stored_bits
            assert level == qkd.key_status(net["v"], "u").stored_bits == s.final_bits - 512
        with running(TOPO, allow_inspect=False) as (_local, net):
            assert qkd.key_status(net["u"], "v").stored_bits == qkd.key_status(net["v"], "u").stored_bits == level
            after = qkd.get_keys(net["u"], "v", number=2, size_bits=256)
            same = qkd.get_keys_with_ids(net["v"], "u", [k.key_id for k in after])
            assert [k.key for k in same] == [k.key for k in after]
            assert not {k.key for k in after} & {k.key for k in before}
    finally:
        if saved is None:
            os.environ.pop("QNET_KEY_STORE_DIR", None)
        else:
            os.environ["QNET_KEY_STORE_DIR"] = saved
