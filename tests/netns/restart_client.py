"""One client across a node's restart: ``python restart_client.py TOPOLOGY GO_FILE``.

Makes a pair held at the repeater (its far half located at alice) and a qubit at the repeater, prints
READY, waits (bounded) until GO_FILE exists -- the test restarts the repeater meanwhile -- then tries the
old ids and reports each outcome, and checks the restarted repeater serves new pairs. One JSON line.
"""

from __future__ import annotations

import json
import os
import sys
import time

from qemu_net.client import Network
from qemu_net.errors import PeerUnavailable, QnetError


def outcome(fn) -> dict:  # noqa: ANN001
    """What `fn` answers. The restarted node serves (the test waited for it), but this client's channel may
    still hold the old run's refused connection for a moment (gRPC reconnects with a back-off): an
    "unreachable" answer is asked again, within a bounded time, until the new run itself answers."""
    t0 = time.monotonic()
    while True:
        try:
            return {"ok": True, "value": fn(), "seconds": time.monotonic() - t0}
        except PeerUnavailable as exc:
            if time.monotonic() - t0 > 60:
                return {"ok": False, "type": type(exc).__name__, "message": str(exc), "seconds": time.monotonic() - t0}
            time.sleep(0.5)
        except QnetError as exc:
            return {"ok": False, "type": type(exc).__name__, "message": str(exc), "seconds": time.monotonic() - t0}


def main() -> None:
    topology, go = sys.argv[1], sys.argv[2]
    with Network.connect(topology, timeout_s=15) as net:
        (pair,) = net["repeater"].epr("alice")
        q = net["repeater"].qubit()
        q.x()
        print("READY", pair.local.id, pair.remote.id, q.id, flush=True)
        deadline = time.monotonic() + 300
        while not os.path.exists(go) and time.monotonic() < deadline:
            time.sleep(0.2)
        out = {
            "old_qubit": outcome(lambda: net["repeater"].measure(q.id)),
            "old_half_at_repeater": outcome(lambda: net["repeater"].measure(pair.local.id)),
            "far_half_at_alice": outcome(lambda: net["alice"].measure(pair.remote.id)),
        }
        # This client's channel to the restarted node may still hold the old run's refused connection for a
        # moment (gRPC reconnects with a back-off): the new run must serve it within a bounded time.
        until = time.monotonic() + 60
        while True:
            try:
                new = net["repeater"].qubit()
                break
            except PeerUnavailable:
                if time.monotonic() > until:
                    raise
                time.sleep(0.5)
        out["new_qubit_id"] = new.id
        out["old_ids"] = [q.id, pair.local.id]
        agree = []
        # alice may still see the old run's refused connection for a moment (its channel reconnects with
        # a back-off): new pairs must work within a bounded time, not at the first try.
        until = time.monotonic() + 60
        while len(agree) < 4:
            try:
                (p,) = net["alice"].epr("repeater")
            except PeerUnavailable:
                if time.monotonic() > until:
                    raise
                time.sleep(0.5)
                continue
            agree.append(p.local.measure() == p.remote.measure())
        out["new_pairs_agree"] = agree
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
