"""`qnet keys`: QKD keys from a running network's key-delivery API (in the spirit of ETSI GS QKD 014).

    qnet up                                                     # start the network
    qnet run qkd --from alice --to bob --pulses 10000000        # a session fills both key stores
    qnet keys status --node alice --peer bob                    # stored bits, key size limits
    qnet keys get --node alice --peer bob -n 4 --size 256       # master: prints key ids and sizes
    qnet keys get-with-ids --node bob --peer alice ID [ID ...]  # slave: the same keys, by id

Key material is printed only with --show (hex); it is never logged.
"""

from __future__ import annotations

import argparse
import json

from qemu_net.cli.common import add_topology_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("keys", help="fetch QKD keys from a running network (key delivery API)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = p.add_subparsers(dest="keys_action", metavar="ACTION", required=True)
    st = actions.add_parser("status", help="key bits a node stores for a peer, and request limits")
    get = actions.add_parser("get", help="master side: fresh keys of a size; prints their ids")
    get.add_argument("-n", "--number", type=int, default=1, help="how many keys (default 1)")
    get.add_argument("--size", type=int, default=256, help="key size in bits, a multiple of 8 (default 256)")
    ids = actions.add_parser("get-with-ids", help="slave side: the keys the peer's application got, by id")
    ids.add_argument("key_ids", nargs="+", metavar="ID")
    for a in (st, get, ids):
        add_topology_args(a)
        a.add_argument("--node", required=True, help="the node whose key store answers")
        a.add_argument("--peer", required=True, help="the node the keys are shared with")
        a.add_argument("--json", action="store_true", help="print JSON")
    for a in (get, ids):
        a.add_argument("--show", action="store_true", help="also print the key material (hex)")
    p.set_defaults(func=run)


def _connect(args: argparse.Namespace):
    from qemu_net.cli.common import _alive, load, read_state
    from qemu_net.client import Network
    from qemu_net.errors import PeerUnavailable
    from qemu_net.network.topology import parse_topology

    topology = load(args)
    if all(n.address for n in topology.nodes):
        return Network.connect(topology)
    state = read_state(topology.name)
    if state is None or not _alive(state.get("supervisor_pid", 0)):
        raise PeerUnavailable(f"network {topology.name!r} is not running: keys live in running nodes "
                              "(start it with `qnet up`, then make keys with `qnet run qkd`)")
    return Network.connect(parse_topology(state["topology"], source=topology.name))


def _key_rows(keys, show: bool) -> list[dict]:
    return [{"key_id": k.key_id, "size_bits": k.size_bits, **({"key_hex": k.key.hex()} if show else {})}
            for k in keys]


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from qemu_net.client import qkd

    with _connect(args) as net:
        node = net[args.node]
        if args.keys_action == "status":
            st = qkd.key_status(node, args.peer)
            if args.json:
                print(json.dumps(asdict(st)))
            else:
                print(f"{st.node} <-> {st.peer}: {st.stored_bits:,} key bits stored "
                      f"({st.stored_key_count:,} keys of {st.default_key_size_bits} bits) from "
                      f"{st.stored_sessions} session(s); {st.pending_keys} key(s) waiting to be fetched by id; "
                      f"key size {st.min_key_size_bits}..{st.max_key_size_bits} bits, "
                      f"at most {st.max_keys_per_request} keys per request")
            return 0
        if args.keys_action == "get":
            keys = qkd.get_keys(node, args.peer, args.number, args.size)
        else:
            keys = qkd.get_keys_with_ids(node, args.peer, args.key_ids)
    rows = _key_rows(keys, args.show)
    if args.json:
        print(json.dumps({"node": args.node, "peer": args.peer, "keys": rows}))
    else:
        for r in rows:
            print(" ".join(str(v) for v in r.values()))
    return 0
