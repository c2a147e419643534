"""`qnet keys`: QKD keys from a running network's key-delivery API (in the spirit of ETSI GS QKD 014).

    qnet up                                                          # alice -- repeater -- bob
    qnet run qkd --from alice --to repeater --pulses 100000000       # a session fills both key stores
    qnet keys status --node alice --peer repeater                    # stored bits, key size limits
    qnet keys get --node alice --peer repeater -n 4 --size 256       # master: prints key ids and sizes
    qnet keys get-with-ids --node repeater --peer alice ID [ID ...]  # slave: the same keys, by id

QKD runs over one fiber link (alice and bob share none on the default network: key between them goes
through the repeater as a trusted relay, `qnet keys etsi`); 10^8 pulses over its 10 km give about
25,000 secret bits after the finite-key bound (10^7 pulses give none).

The same through a node's ETSI GS QKD 014 key manager (HTTPS, mutual TLS; the application is the
SAE named by its certificate), across any number of trusted relays:

    qnet keys etsi status --kme https://127.0.0.1:8443 --cert sae-a.pem --key sae-a.key --ca ca.pem sae-d
    qnet keys etsi enc    --kme https://A:8443 ... sae-d -n 2 --size 256      # master: ids (+ --show)
    qnet keys etsi dec    --kme https://D:8443 --cert sae-d.pem ... sae-a ID [ID ...]   # slave

--cert/--key/--ca default to $QNET_SAE_CERT, $QNET_SAE_KEY and $QNET_KME_CA.
Key material is printed only with --show (hex); it is never logged.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from qemu_net.cli.common import add_topology_args

if TYPE_CHECKING:
    from collections.abc import Sequence

    from qemu_net.client import Network
    from qemu_net.qkd.delivered import DeliveredKey


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("keys",
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
    etsi = actions.add_parser("etsi", help="ETSI GS QKD 014 over mutual TLS to a node's KME")
    ops = etsi.add_subparsers(dest="etsi_action", metavar="OP", required=True)
    e_st = ops.add_parser("status", help="the status of the key supply to a slave SAE")
    e_st.add_argument("sae", metavar="SLAVE_SAE")
    e_enc = ops.add_parser("enc", help="master: fresh keys shared with a slave SAE (enc_keys)")
    e_enc.add_argument("sae", metavar="SLAVE_SAE")
    e_enc.add_argument("-n", "--number", type=int, default=1)
    e_enc.add_argument("--size", type=int, default=256, help="bits, a multiple of 8")
    e_enc.add_argument("--additional", nargs="*", default=[], metavar="SAE", help="more slave SAEs (same keys)")
    e_dec = ops.add_parser("dec", help="slave: the keys a master SAE got, by id (dec_keys)")
    e_dec.add_argument("sae", metavar="MASTER_SAE")
    e_dec.add_argument("key_ids", nargs="+", metavar="ID")
    import os

    for a in (e_st, e_enc, e_dec):
        a.add_argument("--kme", required=True, help="https://HOST:PORT of the application's KME")
        a.add_argument("--cert", default=os.environ.get("QNET_SAE_CERT"), help="the SAE's certificate (PEM)")
        a.add_argument("--key", default=os.environ.get("QNET_SAE_KEY"), help="the SAE's private key (PEM)")
        a.add_argument("--ca", default=os.environ.get("QNET_KME_CA"), help="the network CA certificate (PEM)")
        a.add_argument("--json", action="store_true", help="print JSON")
    for a in (e_enc, e_dec):
        a.add_argument("--show", action="store_true", help="also print the key material (hex)")
    p.set_defaults(func=run)


def _connect(args: argparse.Namespace) -> Network:
    from qemu_net.cli.common import load, read_state, supervisor_running
    from qemu_net.client import Network
    from qemu_net.errors import PeerUnavailable
    from qemu_net.network.topology import parse_topology

    topology = load(args)
    if all(n.address for n in topology.nodes):
        return Network.connect(topology)
    state = read_state(topology.name)
    if not supervisor_running(state):
        raise PeerUnavailable(f"network {topology.name!r} is not running: keys live in running nodes "
                              "(start it with `qnet up`, then make keys with `qnet run qkd`)")
    from qemu_net.cli.common import state_tls

    return Network.connect(parse_topology(state["topology"], source=topology.name), **state_tls(state))


def _key_rows(keys: Sequence[DeliveredKey], show: bool) -> list[dict[str, Any]]:
    return [{"key_id": k.key_id, "size_bits": k.size_bits, **({"key_hex": k.key.hex()} if show else {})}
            for k in keys]


def _run_etsi(args: argparse.Namespace) -> int:
    import base64

    from qemu_net.client.qkd import Etsi014Client
    from qemu_net.errors import InvalidOperation

    missing = [f"--{n}" for n in ("cert", "key", "ca") if not getattr(args, n)]
    if missing:
        raise InvalidOperation(f"qnet keys etsi needs {', '.join(missing)} "
                               "(or $QNET_SAE_CERT, $QNET_SAE_KEY, $QNET_KME_CA)")
    with Etsi014Client(args.kme, cert=args.cert, key=args.key, ca=args.ca) as c:
        if args.etsi_action == "status":
            st = c.status(args.sae)
            print(json.dumps(st) if args.json else " ".join(f"{k}={v}" for k, v in st.items()))
            return 0
        keys = (c.enc_keys(args.sae, args.number, args.size, args.additional) if args.etsi_action == "enc"
                else c.dec_keys(args.sae, args.key_ids))
    rows = []
    for k in keys:
        raw = base64.b64decode(k["key"])
        row = {"key_id": k["key_ID"], "size_bits": 8 * len(raw),
               "route": (k.get("key_extension") or {}).get("route")}
        if args.show:
            row["key_hex"] = raw.hex()
        rows.append(row)
    if args.json:
        print(json.dumps({"kme": args.kme, "sae": args.sae, "keys": rows}))
    else:
        for r in rows:
            print(" ".join("-".join(v) if isinstance(v, list) else str(v) for v in r.values() if v is not None))
    return 0


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from qemu_net.client import qkd

    if args.keys_action == "etsi":
        return _run_etsi(args)

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
