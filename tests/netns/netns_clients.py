"""Protocol clients run *inside* a lab namespace: ``python netns_clients.py ACTION TOPOLOGY [N]``.

Each action drives the nodes through the client SDK and prints one JSON line with what the test
checks. Nothing here asserts; the tests do.

teleport N   teleport N qubits ry(theta_k)|0> alice -> repeater (neighbours over a fiber); report each received state's fidelity
swap N       entanglement swapping at the repeater: EPR alice-repeater and repeater-bob, Bell
             measurement at the repeater, Pauli correction at bob; alice's and bob's halves are then
             measured in Z or X (alternating) and must agree (Phi+)
qkd N        an entanglement-based (BBM92) key session alice -> repeater: a batch of N EPR pairs measured
             in random bases at both ends, bases exchanged over the classical channel, sifted key and QBER
swap-roles N the repeater protocol's own roles (one per node process, coordinated only by messages):
             N end-to-end pairs alice--bob by swapping at the repeater, measured at both ends in Z/X
qkd-roles N  a decoy-state BB84 session alice -> repeater run by the nodes' QKD roles (N pulses),
             then keys fetched at both ends through the key-delivery API; reports whether they match
classical N  N numbered classical messages alice -> bob; bob must receive each exactly once, in order
inflight D   a receive role at the repeater that waits (deadline D s) for a sender that never comes;
             prints WAITING first, so a test can SIGTERM the repeater while the call is in flight
loop N       up to N teleports alice -> repeater (deadline 20 s each), printing DONE k after each; stops
             at the first error and reports it with how long the failing call took
"""

from __future__ import annotations

import json
import math
import sys
import time

import numpy as np

from qemu_net._proto.v1 import protocols_pb2 as pr
from qemu_net.client import Network
from qemu_net._serde import sdk as w
from qemu_net.errors import QnetError


def teleport(net: Network, n: int) -> dict:
    fids, times = [], []
    for k in range(n):
        theta = math.pi * (k + 0.5) / n
        t0 = time.monotonic()
        q = net["alice"].qubit()
        q.ry(theta)
        r = net.teleport(q, "repeater", timeout_s=60)
        times.append(time.monotonic() - t0)
        rho = r.density_matrix()
        psi = np.array([math.cos(theta / 2), math.sin(theta / 2)])
        fids.append(float(np.real(psi.conj() @ rho @ psi)))
        net["repeater"].free([r])
    return {"fidelities": fids, "seconds": times}


def swap(net: Network, n: int) -> dict:
    agree, times = [], []
    alice, rep, bob = net["alice"], net["repeater"], net["bob"]
    for k in range(n):
        t0 = time.monotonic()
        (p1,) = rep.epr("alice")
        (p2,) = rep.epr("bob")
        r1, r2 = p1.local, p2.local
        r1.cnot(r2)
        r1.h()
        m1, m2 = r1.measure("Z"), r2.measure("Z")
        b = p2.remote
        if m2:
            b.x()
        if m1:
            b.z()
        basis = "ZX"[k % 2]
        agree.append(p1.remote.measure(basis) == b.measure(basis))
        times.append(time.monotonic() - t0)
    return {"agree": agree, "seconds": times}


def qkd(net: Network, n: int) -> dict:
    rng = np.random.default_rng(7)
    alice, rep = net["alice"], net["repeater"]
    a_bases = rng.choice(["Z", "X"], size=n)
    b_bases = rng.choice(["Z", "X"], size=n)
    t0 = time.monotonic()
    batch = alice.create_measure_epr("repeater", n, local_bases=a_bases, remote_bases=b_bases)
    b_out = rep.fetch_epr_outcomes(batch.batch_id, timeout_s=30)
    # Public discussion over the classical channel: alice announces her bases to the repeater.
    alice.send("repeater", "qkd-bases", "".join(a_bases).encode())
    announced = rep.receive("alice", "qkd-bases", timeout_s=30).decode()
    keep = np.array([x == y for x, y in zip(announced, b_bases)])
    a_key, b_key = batch.outcomes[keep], b_out[keep]
    qber = float(np.mean(a_key != b_key)) if len(a_key) else 1.0
    return {
        "pairs": n,
        "sifted": int(keep.sum()),
        "qber": qber,
        "bases_intact": announced == "".join(a_bases),
        "seconds": time.monotonic() - t0,
    }


def swap_roles(net: Network, n: int) -> dict:
    from qemu_net.client import protocols

    bases = ["ZX"[k % 2] for k in range(n)]
    t0 = time.monotonic()
    res = protocols.swap(net, "alice", "repeater", "bob", pairs=n, measure_bases=bases, timeout_s=120)
    a, b = res.outcomes
    return {"agree": [bool(x == y) for x, y in zip(a, b)], "swaps": res.swaps, "epr_pairs": res.epr_pairs,
            "seconds": time.monotonic() - t0}


def qkd_roles(net: Network, n: int) -> dict:
    from qemu_net.client import qkd as q

    t0 = time.monotonic()
    s = q.run_qkd(net, "alice", "repeater", "bb84", n_pulses=n, timeout_s=180)
    keys = q.get_keys(net["alice"], "repeater", number=4, size_bits=128)
    same = q.get_keys_with_ids(net["repeater"], "alice", [k.key_id for k in keys])
    return {"final_bits": s.final_bits, "qber": s.qber, "aborted": s.aborted,
            "keys_match": all(x.key == y.key for x, y in zip(keys, same)) and len(keys) == len(same) == 4,
            "seconds": time.monotonic() - t0}


def classical(net: Network, n: int) -> dict:
    alice, bob = net["alice"], net["bob"]
    t0 = time.monotonic()
    for i in range(n):
        alice.send("bob", "count", str(i).encode())
    got = [int(bob.receive("alice", "count", timeout_s=30)) for _ in range(n)]
    extra = None
    try:
        extra = bob.receive("alice", "count", timeout_s=1.0).decode()
    except Exception as exc:  # noqa: BLE001 - any error means "nothing more arrived", which we report
        extra_error = type(exc).__name__
    else:
        extra_error = None
    return {"received": got, "extra": extra, "extra_error": extra_error, "seconds": time.monotonic() - t0}


def _error(exc: QnetError, t0: float) -> dict:
    return {"type": type(exc).__name__, "code": exc.grpc_code, "message": str(exc), "seconds": time.monotonic() - t0}


def inflight(net: Network, deadline_s: int) -> dict:
    req = w.protocol_request(w.new_session(), deadline_s, teleport_receive=pr.TeleportReceive(peer="alice"))
    print("WAITING", flush=True)
    t0 = time.monotonic()
    try:
        net["repeater"].run_protocol(req)
    except QnetError as exc:
        return {"ok": False, "deadline_s": deadline_s, "error": _error(exc, t0)}
    return {"ok": True, "deadline_s": deadline_s, "seconds": time.monotonic() - t0}


def loop(net: Network, n: int) -> dict:
    done = 0
    for k in range(n):
        t0 = time.monotonic()
        try:
            q = net["alice"].qubit()
            q.ry(0.4)
            r = net.teleport(q, "repeater", timeout_s=20)
            net["repeater"].free([r])
        except QnetError as exc:
            return {"done": done, "deadline_s": 20, "error": _error(exc, t0)}
        done += 1
        print(f"DONE {k + 1}", flush=True)
    return {"done": done, "deadline_s": 20, "error": None}


def main() -> int:
    action, topo = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    fn = {"teleport": teleport, "swap": swap, "qkd": qkd, "classical": classical, "inflight": inflight,
          "swap-roles": swap_roles, "qkd-roles": qkd_roles,
          "loop": loop}[action]
    with Network.connect(topo, timeout_s=60) as net:
        out = fn(net, n)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
