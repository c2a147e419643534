"""Write docs/benchmarks.md from the JSON the benchmark scripts printed.

    mkdir -p out/bench
    python bench/bench_foundation.py --repeat 3 > out/bench/foundation.json
    python bench/bench_noise_cost.py --rounds 3 > out/bench/noise.json
    python bench/bench_swap.py --repeat 3 > out/bench/swap.json
    python bench/bench_chain.py --repeat 3 > out/bench/chain.json
    python bench/bench_qkd_pulses.py --repeats 3 > out/bench/qkd_pulses.json
    python bench/bench_qkd_e2e.py --repeats 3 > out/bench/qkd_e2e.json
    python bench/make_report.py out/bench > docs/benchmarks.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(folder: str) -> None:
    d = Path(folder)
    f = json.loads((d / "foundation.json").read_text())
    sw = json.loads((d / "swap.json").read_text())
    ch = json.loads((d / "chain.json").read_text())
    qp = json.loads((d / "qkd_pulses.json").read_text())
    qe = json.loads((d / "qkd_e2e.json").read_text())
    nz = json.loads((d / "noise.json").read_text())
    m = f["median"]
    out = [
        "# Benchmarks measured here\n",
        "2-core shared machine, Python 3.11, grpcio 1.85, numpy 2.4. Every figure is the median of 3 runs; each script",
        "measures its own reference in the same run (a bare gRPC echo or a GetInfo round trip). Regenerate with the",
        "commands in `bench/make_report.py`.\n",
        "## Foundation: `python bench/bench_foundation.py --repeat 3`\n",
        "| figure | measured | target |\n|---|---|---|",
        f"| bare gRPC echo p50 (reference) | {m['echo_p50_ms']:.3f} ms ({m['echo_calls_per_s']:.0f} calls/s, 8 threads) | |",
        f"| EPR pairs created + measured at both ends via SDK (3 calls/pair, 8 in flight) | {m['epr_pairs_per_s']:.0f} pairs/s | >= 300 |",
        f"| 10,000-pair create-and-measure batch in one request | {m['batch_pairs_per_s']:,.0f} pairs/s | >= 50,000 |",
        f"| teleportations of random states via SDK (prepare, teleport, verify; 8 in flight) | {m['teleports_per_s']:.0f} /s | >= 200 |",
        f"| one gate on a local qubit (interleaved with echo calls) | {m['gate_local_ms']:.3f} ms = {m['gate_local_over_echo']:.2f}x echo | <= 1.5x |",
        f"| one gate on a qubit whose state another process holds | {m['gate_remote_held_ms']:.3f} ms = {m['gate_remote_held_over_echo']:.2f}x echo | <= 2.5x |",
        f"| floor for the above: a bare gRPC relay (echo server calling a second echo; reference) | {m['relay_ms']:.3f} ms = {m['relay_over_echo']:.2f}x echo | |",
        f"| `qnet up`-style start, 8 nodes healthy | {m['up_8_nodes_s']:.2f} s | <= 5 s |",
        f"| 8 nodes: RSS / PSS per node | {m['up_8_rss_mb_median']:.0f} MB / {m['up_8_pss_mb_median']:.1f} MB | PSS <= 40 MB |",
        f"| 64 nodes healthy | {m['up_64_nodes_s']:.2f} s (PSS {m['up_64_pss_mb_median']:.1f} MB/node) | <= 20 s |\n",
        "Per run: " + "; ".join(
            ", ".join(f"{k}={r[k]:.4g}" for k in ("epr_pairs_per_s", "teleports_per_s", "gate_local_over_echo",
                                                 "gate_remote_held_over_echo", "relay_over_echo")) for r in f["runs"]) + "\n",
        "## Noise cost: `python bench/bench_noise_cost.py --rounds 3` (one client, sequential)\n",
    ]
    md = nz["median"]
    out.append(f"EPR create+measure {md['epr_off']}/s noiseless vs {md['epr_on']}/s with every model on (ratio "
               f"{nz['ratio_on_off']['epr_create_measure']}); teleport {md['teleport_off']}/s vs {md['teleport_on']}/s "
               f"(ratio {nz['ratio_on_off']['teleport']}). Budget: within 30%.\n")
    out.append("## Protocols: `python bench/bench_swap.py --repeat 3`, `python bench/bench_chain.py --repeat 3`\n")
    out.append(f"Swap rounds on a 3-node chain through the SDK: {sw['single_rounds_per_s']}/s one swap per call (8 in "
               f"flight), {sw['batched_rounds_per_s']}/s with 32 swaps per call; reference GetInfo {sw['getinfo_per_s']}/s. "
               "Target >= 150/s.\n")
    out.append("| node processes | " + " | ".join(str(c["nodes"]) for c in ch["chains"]) + " |")
    out.append("|---" * (len(ch["chains"]) + 1) + "|")
    out.append("| wall ms per delivered pair | " + " | ".join(str(c["wall_ms_per_pair"]) for c in ch["chains"]) + " |")
    out.append("| start-up s | " + " | ".join(str(c["startup_s"]) for c in ch["chains"]) + " |")
    out.append("| ZZ agreement (Werner F=0.99 links) | " + " | ".join(str(c["zz_agreement"]) for c in ch["chains"]) + " |\n")
    out.append("Closed form for the agreement over n links: (1 + ((4F-1)/3)^n)/2, e.g. 0.715 for 63 links.\n")
    out.append("## QKD: `python bench/bench_qkd_pulses.py --repeats 3`, `python bench/bench_qkd_e2e.py --repeats 3`\n")
    out.append(f"Vectorised pulse trains: {qp['pulses_per_s_1km']:.3g} pulses/s at 1 km, {qp['pulses_per_s_50km']:.3g} at "
               f"50 km (reference numpy rng.random: {qp['reference_rng_random_per_s']:.3g}/s). Target >= 1e7/s.\n")
    out.append("| end to end between two node processes | secret bits per wall second | in-process reference |")
    out.append("|---|---|---|")
    for k in ("apd_1km", "apd_50km", "snspd_1km", "snspd_50km"):
        e, i = qe["e2e_" + k], qe["inprocess_" + k]
        out.append(f"| {k.replace('_', ' ')} (QBER {e['qber']:.3f}, keys equal: {e['keys_equal']}) | "
                   f"{e['secret_bits_per_wall_s']:,.0f} | {i['secret_bits_per_wall_s']:,.0f} |")
    out.append(f"\nAPD: efficiency 0.1, dark counts 1e-6; SNSPD: 0.85, 1e-7; 0.2 dB/km, misalignment 1.5%. Target >= 1e5 "
               f"bits/s at 1 km. GetInfo round trip in the same run: {qe['getinfo_rtt_ms']} ms.")
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1])
