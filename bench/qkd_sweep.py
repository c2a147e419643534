"""Key rate against distance: simulated decoy BB84 sessions beside the GLLP curve and the PLOB bound.

For each fiber length a full decoy-state BB84 session runs in-process (both roles, real sifting,
decoy estimation, Cascade, verification, privacy amplification; no gRPC). Writes into OUTDIR:

- ``qkd_sweep.csv``: per distance the session's raw/sifted/final bits, QBER, the final key rate per
  pulse, the asymptotic rate estimated from the measured gains, the closed-form rates and the bound;
- ``qkd_sweep.png``: key rate per pulse against distance (log scale) with the infinite-decoy GLLP
  curve, the vacuum+weak decoy GLLP curve for the same parameters, and the repeaterless PLOB bound
  -log2(1 - eta) of the fiber.

Rates per pulse count every pulse sent (signal, decoy and vacuum), so the per-signal-pulse formulas
are multiplied by p_signal. Usage: python bench/qkd_sweep.py OUTDIR [--pulses N] [--distances ...]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from qemu_net.network.topology import parse_topology  # noqa: E402
from qemu_net.qkd.local import run_local_session  # noqa: E402
from qemu_net.qkd.roles import BB84Params, bb84_alice, bb84_bob  # noqa: E402
from qemu_net.qkd.theory import (  # noqa: E402
    decoy_rate_from_gains,
    gllp_key_rate,
    gllp_max_distance_km,
    plob_bound,
    transmittance,
)

LINK = {"attenuation_db_per_km": 0.2, "detector_efficiency": 0.1, "dark_count_probability": 1e-6,
        "misalignment_error": 0.015}


def expected_gains(eta: float, m: float, pd: float, ed: float) -> tuple[float, float]:
    pc = 1 - (1 - pd) * math.exp(-m * eta * (1 - ed))
    pw = 1 - (1 - pd) * math.exp(-m * eta * ed)
    gain = 1 - (1 - pc) * (1 - pw)
    return gain, (pw * (1 - pc) + pc * pw / 2) / gain


def main() -> None:
    ap = argparse.ArgumentParser(description="QKD key rate vs distance sweep")
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--pulses", type=int, default=20_000_000, help="pulses per session")
    ap.add_argument("--distances", type=float, nargs="*",
                    default=[0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150, 160])
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    args.outdir.mkdir(parents=True, exist_ok=True)

    base = BB84Params(peer="bob", n_pulses=args.pulses, raise_on_abort=False)
    pd, ed = LINK["dark_count_probability"], LINK["misalignment_error"]
    y0 = 1 - (1 - pd) ** 2
    q = base.p_z**2 + (1 - base.p_z) ** 2

    def theory_rates(length: float) -> tuple[float, float, float]:
        eta = transmittance(length, LINK["attenuation_db_per_km"], LINK["detector_efficiency"])
        inf = base.p_signal * gllp_key_rate(eta, y0, ed, base.mu, base.f_ec, q)
        g_mu, e_mu = expected_gains(eta, base.mu, pd, ed)
        g_nu, e_nu = expected_gains(eta, base.nu, pd, ed)
        vw = base.p_signal * decoy_rate_from_gains(g_mu, e_mu, g_nu, e_nu, y0, base.mu, base.nu, base.f_ec, q)
        plob = float(plob_bound(transmittance(length, LINK["attenuation_db_per_km"], 1.0)))
        return inf, vw, plob

    rows = []
    t_start = time.perf_counter()
    for i, length in enumerate(args.distances):
        topo = parse_topology({"nodes": ["alice", "bob"],
                               "links": [{"nodes": ["alice", "bob"], "length_km": length, **LINK}]})
        sid = f"sweep-{i}"
        out = run_local_session(topo, {
            "alice": (bb84_alice, BB84Params(**{**base.__dict__, "session_id": sid})),
            "bob": (bb84_bob, BB84Params(peer="alice", session_id=sid, raise_on_abort=False)),
        }, seed=args.seed + i)
        a, b = out["alice"], out["bob"]
        if a.aborted is None and a.key != b.key:
            raise SystemExit(f"keys differ at {length} km: this is a bug")
        inf, vw, plob = theory_rates(length)
        rows.append({
            "length_km": length,
            "eta": topo.links[0].transmissivity,
            "n_pulses": a.n_pulses,
            "raw_bits": a.raw_bits,
            "sifted_bits": a.sifted_bits,
            "qber": a.qber,
            "final_bits": a.final_bits,
            "key_rate_per_pulse": a.key_rate_per_pulse,
            "key_rate_per_virtual_s": a.key_rate_per_s,
            "asymptotic_rate_per_pulse_measured": a.asymptotic_rate_per_pulse or 0.0,
            "gllp_rate_per_pulse": inf,
            "gllp_vacuum_weak_rate_per_pulse": vw,
            "plob_bits_per_pulse": plob,
            "ec_efficiency": a.ec_efficiency,
            "aborted": a.aborted or "",
        })
    elapsed = time.perf_counter() - t_start

    csv_path = args.outdir / "qkd_sweep.csv"
    with csv_path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)

    lmax = gllp_max_distance_km(attenuation_db_per_km=LINK["attenuation_db_per_km"],
                                detector_efficiency=LINK["detector_efficiency"], y0=y0, e_d=ed,
                                mu=base.mu, f_ec=base.f_ec, q=q)
    grid = np.linspace(0, max(max(args.distances), lmax * 1.1), 400)
    th = np.array([theory_rates(x) for x in grid])
    fig, ax = plt.subplots(figsize=(7.5, 5))
    ax.semilogy(grid, th[:, 2], "k--", label="PLOB bound $-\\log_2(1-\\eta_{fiber})$")
    ax.semilogy(grid, np.where(th[:, 0] > 0, th[:, 0], np.nan), "C0-", label="GLLP, infinite decoys")
    ax.semilogy(grid, np.where(th[:, 1] > 0, th[:, 1], np.nan), "C0:", label="GLLP, vacuum + weak decoy")
    d = np.array([r["length_km"] for r in rows])
    fin = np.array([r["key_rate_per_pulse"] for r in rows])
    asym = np.array([r["asymptotic_rate_per_pulse_measured"] for r in rows])
    ax.semilogy(d[fin > 0], fin[fin > 0], "C3o", label=f"simulated final key ({args.pulses:.0e} pulses)")
    ax.semilogy(d[asym > 0], asym[asym > 0], "C2x", label="asymptotic rate from measured gains")
    ax.axvline(lmax, color="0.6", lw=0.8)
    ax.set_xlabel("fiber length (km)")
    ax.set_ylabel("secret key bits per pulse")
    ax.set_title(f"decoy BB84: mu={base.mu}, nu={base.nu}, e_d={ed}, p_dark={pd}, "
                 f"eta_det={LINK['detector_efficiency']}", fontsize=9)
    ax.set_ylim(1e-7, 10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    png_path = args.outdir / "qkd_sweep.png"
    fig.tight_layout()
    fig.savefig(png_path, dpi=120)
    print(json.dumps({"csv": str(csv_path), "png": str(png_path), "gllp_max_distance_km": lmax,
                      "sessions": len(rows), "wall_s": elapsed}))


if __name__ == "__main__":
    main()
