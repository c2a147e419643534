"""Clients for the partition test, run inside a lab namespace:
``python partition_clients.py send|receive TOPOLOGY N DEADLINE_S``.

send     N numbered messages alice -> bob on channel "part", one a second; each is named
         (``message_id`` m<k>) and retried with the same name after any error until it is taken
receive  receives from alice at bob until it has N messages, retrying after any error (timeouts,
         a cut connection); prints the sequence numbers in the order received

Each prints progress lines and, at the end, one JSON line. Nothing here asserts; the test does.
"""

from __future__ import annotations

import json
import sys
import time

from qemu_net.client import Network
from qemu_net.errors import QnetError


def send(net: Network, n: int, give_up: float) -> dict:
    errors = 0
    for k in range(n):
        while True:
            if time.monotonic() > give_up:
                return {"sent": k, "errors": errors, "gave_up": True}
            try:
                net["alice"].send("bob", "part", f"{k}".encode(), message_id=f"m{k}")
                break
            except QnetError as exc:
                errors += 1
                print("SEND-ERROR", k, type(exc).__name__, flush=True)
                time.sleep(0.5)
        print("SENT", k, flush=True)
        time.sleep(1.0)  # paced so that the stream outlasts all three partitions
    return {"sent": n, "errors": errors, "gave_up": False}


def receive(net: Network, n: int, give_up: float) -> dict:
    got: list[int] = []
    errors = 0
    while len(got) < n and time.monotonic() < give_up:
        try:
            payload = net["bob"].receive("alice", "part", timeout_s=4.0)
        except QnetError as exc:
            errors += 1
            print("RECV-ERROR", len(got), type(exc).__name__, flush=True)
            continue
        got.append(int(payload.decode()))
        print("GOT", got[-1], flush=True)
    return {"received": got, "errors": errors}


def main() -> None:
    action, topology, n, deadline_s = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    give_up = time.monotonic() + deadline_s
    with Network.connect(topology, timeout_s=6.0) as net:
        out = send(net, n, give_up) if action == "send" else receive(net, n, give_up)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
