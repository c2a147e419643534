"""Foundation benchmarks, printed as JSON: EPR pairs, batches, teleports, gate latency, start-up, memory.

    python bench/bench_foundation.py [--repeat 3] [--quick] [--tls both|on|off]

Nodes run with mutual TLS by default (as `qnet up` starts them); ``--tls both`` measures every figure
with TLS on and off in the same run (interleaved, on then off, in each repeat): ``median``/``runs`` are
the TLS-on figures (``off`` alone: the plaintext ones), and ``tls`` holds both sets and their ratios.

Every figure is the median of --repeat runs; each run also measures a bare gRPC echo (a generic unary
handler returning its request, in its own process, on loopback) so ratios are comparable on a shared
machine; gate latencies are measured interleaved with echo calls (gate, echo, gate, echo, ...) so both
see the same load. Throughput figures use several client threads (8 requests in flight), like the reference
prototype the issue quotes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from qemu_net.client import Network, gate, measure  # noqa: E402
from qemu_net.node.launcher import LocalNetwork  # noqa: E402
from qemu_net.network.topology import parse_topology  # noqa: E402

ECHO_SERVER = textwrap.dedent(
    """
    import sys, grpc
    from concurrent import futures
    # With an address argument this is a relay: its handler calls the echo there (two hops, no other work).
    relay = grpc.insecure_channel(sys.argv[1]).unary_unary("/bench.Echo/Echo") if len(sys.argv) > 1 else None
    def echo(req, ctx):
        return relay(req, timeout=5) if relay else req
    h = grpc.method_handlers_generic_handler("bench.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(echo)})
    s = grpc.server(futures.ThreadPoolExecutor(16), options=[("grpc.so_reuseport", 0)])
    s.add_generic_rpc_handlers((h,))
    port = s.add_insecure_port("127.0.0.1:0")
    s.start()
    print(port, flush=True)
    s.wait_for_termination()
    """
)

TWO = parse_topology({"name": "bench2", "nodes": ["alice", "bob"], "links": [["alice", "bob"]]})


class EchoServer:
    """A bare gRPC echo (generic unary handler returning its request) in its own process; given another
    echo server's address, a relay to it (the bare cost of the two hops of a forwarded operation)."""

    def __init__(self, relay_to: str | None = None) -> None:
        self.relay_to = relay_to

    def __enter__(self) -> EchoServer:
        args = [self.relay_to] if self.relay_to else []
        self.proc = subprocess.Popen([sys.executable, "-c", ECHO_SERVER, *args], stdout=subprocess.PIPE, text=True)
        port = int(self.proc.stdout.readline())
        self.address = f"127.0.0.1:{port}"
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self._echo = self.channel.unary_unary("/bench.Echo/Echo")
        grpc.channel_ready_future(self.channel).result(timeout=10)
        for _ in range(200):
            self.call()
        return self

    def call(self) -> None:
        self._echo(b"x" * 16, timeout=5)

    def __exit__(self, *exc: object) -> None:
        self.channel.close()
        self.proc.kill()
        self.proc.wait()


def echo_reference(echo: EchoServer, calls: int, threads: int) -> dict[str, float]:
    lat = []
    for _ in range(calls):
        t0 = time.perf_counter()
        echo.call()
        lat.append(time.perf_counter() - t0)
    per_thread = calls // threads

    def worker() -> None:
        for _ in range(per_thread):
            echo.call()

    t0 = time.perf_counter()
    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    rate = per_thread * threads / (time.perf_counter() - t0)
    return {"echo_p50_ms": statistics.median(lat) * 1e3, "echo_calls_per_s": rate}


def paired_latency(fn, echo: EchoServer, n: int) -> tuple[float, float]:
    """p50 of `fn` and of the echo, calls interleaved so both see the same machine load."""
    for _ in range(50):
        fn()
        echo.call()
    a, b = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        t1 = time.perf_counter()
        echo.call()
        t2 = time.perf_counter()
        a.append(t1 - t0)
        b.append(t2 - t1)
    return statistics.median(a), statistics.median(b)


def throughput(fn, total: int, threads: int) -> float:
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda _: fn(), range(min(threads * 4, 32))))  # warm-up
        t0 = time.perf_counter()
        list(pool.map(lambda _: fn(), range(total)))
        return total / (time.perf_counter() - t0)


def node_memory(pids: list[int]) -> dict[str, float]:
    rss, pss = [], []
    for pid in pids:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            fields = {line.split(":")[0]: int(line.split()[1]) for line in f if line.split()[0].endswith(":")
                      and line.split()[1].isdigit()}
        rss.append(fields.get("Rss", 0) / 1024)
        pss.append(fields.get("Pss", 0) / 1024)
    return {"rss_mb_median": statistics.median(rss), "pss_mb_median": statistics.median(pss),
            "pss_mb_max": max(pss)}


def startup(n: int, tls: bool = True) -> tuple[float, dict[str, float]]:
    topo = parse_topology({"name": f"up{n}", "nodes": [f"n{i}" for i in range(n)],
                           "links": [[f"n{i}", f"n{i + 1}"] for i in range(n - 1)]})
    t0 = time.perf_counter()
    local = LocalNetwork.start(topo, tls=tls)
    try:
        with Network.connect(local.topology, timeout_s=10) as net:
            for node in net:
                node.info()  # every node answers
        elapsed = time.perf_counter() - t0
        mem = node_memory([local.pid(x) for x in topo.node_names])
    finally:
        local.stop()
    return elapsed, mem


def one_run(quick: bool, tls: bool = True) -> dict[str, float]:
    k = 4 if quick else 1
    out: dict[str, float] = {}
    echo = EchoServer().__enter__()
    out.update(echo_reference(echo, 2000 // k, 8))
    local = LocalNetwork.start(TWO, tls=tls)
    try:
        with Network.connect(local.topology) as net:
            alice, bob = net["alice"], net["bob"]

            def epr_and_measure() -> None:
                (p,) = alice.epr("bob")
                alice.measure(p.local)
                bob.measure(p.remote)

            out["epr_pairs_per_s"] = throughput(epr_and_measure, 2000 // k, 8)

            rng = np.random.default_rng(1)
            n = 10_000
            ba = rng.integers(0, 3, n).astype(np.uint8)
            times = []
            for _ in range(5):
                t0 = time.perf_counter()
                alice.create_measure_epr("bob", n, local_bases=ba, remote_bases=ba)
                times.append(time.perf_counter() - t0)
            out["batch_pairs_per_s"] = n / statistics.median(times)

            def teleport() -> None:
                q = alice.qubit()
                th, ph = rng.random() * np.pi, rng.random() * 2 * np.pi
                alice.apply([gate("RY", [q], th), gate("RZ", [q], ph)])
                r = net.teleport(q, "bob")
                bob.apply([gate("RZ", [r], -ph), gate("RY", [r], -th), measure(r)])

            out["teleports_per_s"] = throughput(teleport, 1000 // k, 8)

            local_q = alice.qubit()
            g, e = paired_latency(lambda: alice.gate("H", local_q), echo, 1000 // k)
            out["gate_local_ms"], out["gate_local_echo_ms"] = g * 1e3, e * 1e3
            (p,) = alice.epr("bob")  # p.remote is located at bob, its state held by alice's process
            g, e = paired_latency(lambda: bob.gate("H", p.remote), echo, 1000 // k)
            out["gate_remote_held_ms"], out["gate_remote_echo_ms"] = g * 1e3, e * 1e3
            assert bob.info().groups_held == 0, "the remote-held benchmark must really forward"
        # The floor under the remote-held gate: the same two hops through bare gRPC servers, no work.
        with EchoServer() as far, EchoServer(relay_to=far.address) as relay:
            r, e = paired_latency(relay.call, echo, 1000 // k)
            out["relay_ms"], out["relay_echo_ms"] = r * 1e3, e * 1e3
    finally:
        local.stop()
        echo.__exit__()
    out["gate_local_over_echo"] = out["gate_local_ms"] / out["gate_local_echo_ms"]
    out["gate_remote_held_over_echo"] = out["gate_remote_held_ms"] / out["gate_remote_echo_ms"]
    out["relay_over_echo"] = out["relay_ms"] / out["relay_echo_ms"]
    out["up_8_nodes_s"], mem = startup(8, tls)
    out.update({f"up_8_{key}": v for key, v in mem.items()})
    if not quick:
        out["up_64_nodes_s"], mem64 = startup(64, tls)
        out.update({f"up_64_{key}": v for key, v in mem64.items()})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="fewer calls, no 64-node start-up")
    ap.add_argument("--tls", choices=("both", "on", "off"), default="on",
                    help="nodes with mutual TLS, without, or both in the same run (default: on)")
    args = ap.parse_args()
    from qemu_net.cli.progress import progress_bar

    modes = {"both": (True, False), "on": (True,), "off": (False,)}[args.tls]
    runs: dict[bool, list[dict[str, float]]] = {m: [] for m in modes}
    total = args.repeat * len(modes)
    with progress_bar("bench_foundation", total=total) as step:  # on stderr; stdout stays JSON
        for i in range(args.repeat):
            for j, mode in enumerate(modes):
                step(i * len(modes) + j, total, f"run {i + 1}, TLS {'on' if mode else 'off'}")
                runs[mode].append(one_run(args.quick, mode))
        step(total, total, "done")

    def median(rs: list[dict[str, float]]) -> dict[str, float]:
        return {key: round(statistics.median(r[key] for r in rs), 4) for key in rs[0]}

    main_mode = modes[0]
    out = {"benchmark": "foundation", "repeat": args.repeat, "tls": args.tls, "median": median(runs[main_mode]),
           "runs": [{k: round(v, 4) for k, v in r.items()} for r in runs[main_mode]]}
    if len(modes) == 2:
        on, off = median(runs[True]), median(runs[False])
        out["tls"] = {"on": on, "off": off,
                      "on_over_off": {k: round(on[k] / off[k], 4) for k in on if off.get(k)},
                      "runs_off": [{k: round(v, 4) for k, v in r.items()} for r in runs[False]]}
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
