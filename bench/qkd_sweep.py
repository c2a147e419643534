"""Key rate against distance: finite-key curves for three block sizes, the asymptotic curve, PLOB.

Decoy BB84 (signal, weak decoy, vacuum) with the GYS link of Gobby, Yuan & Shields (0.21 dB/km,
detector efficiency 4.5%, dark counts 1.7e-6, misalignment 3.3%, f = 1.22, mu = 0.48, nu = 0.05).
For each block size N the curve is the composable finite-key length (`qemu_net.qkd.finite_key`,
Lim et al. 2014 with Chernoff bounds, eps_sec = 1e-10, eps_cor = 1e-15) evaluated on the expected
counts of N pulses (`qemu_net.qkd.theory.expected_decoy_counts`), divided by N. Beside them: the
asymptotic figure for the same protocol (vacuum + weak decoy, no fluctuations), the infinite-decoy
GLLP rate, and the repeaterless PLOB bound -log2(1 - eta) of the fiber (eta without the detector).
Optionally (``--simulate-pulses N``) full in-process sessions (both roles, sifting, Cascade,
verification, privacy amplification) at the given distances add measured points.

Writes OUTDIR/qkd_sweep.json (every curve and point) and OUTDIR/qkd_sweep.png; prints one JSON line.
Usage: python bench/qkd_sweep.py OUTDIR [--blocks 1e9 1e11 1e13] [--simulate-pulses N --distances ...]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from qemu_net.network.topology import parse_topology  # noqa: E402
from qemu_net.qkd.finite_key import decoy_bb84_key_length  # noqa: E402
from qemu_net.qkd.local import run_local_session  # noqa: E402
from qemu_net.qkd.roles import BB84Params, bb84_alice, bb84_bob  # noqa: E402
from qemu_net.qkd.theory import (  # noqa: E402
    binary_entropy,
    expected_decoy_counts,
    gllp_key_rate,
    plob_bound,
    transmittance,
)

GYS = {"attenuation_db_per_km": 0.21, "detector_efficiency": 0.045, "dark_count_probability": 1.7e-6 / 2,
       "misalignment_error": 0.033}
MU, NU, F_EC = 0.48, 0.05, 1.22
PROBS = (0.7, 0.2, 0.1)
P_Z = 0.8


def finite_rate(length_km: float, n: float, *, asymptotic: bool = False) -> float:
    eta = transmittance(length_km, GYS["attenuation_db_per_km"], GYS["detector_efficiency"])
    c = expected_decoy_counts(n, mus=(MU, NU, 0.0), probs=PROBS, p_z=P_Z, eta=eta,
                              dark=GYS["dark_count_probability"], e_d=GYS["misalignment_error"])
    e_z = sum(c["m_z"]) / sum(c["n_z"])
    b = decoy_bb84_key_length(n_z=c["n_z"], n_x=c["n_x"], m_x=c["m_x"], mus=(MU, NU, 0.0), probs=PROBS,
                              leak_ec_bits=F_EC * sum(c["n_z"]) * float(binary_entropy(e_z)), f_ec=F_EC, e_z=e_z)
    return (max(b.asymptotic_length, 0.0) if asymptotic else b.length) / n


def main() -> None:
    ap = argparse.ArgumentParser(description="QKD key rate vs distance (finite-key)")
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--blocks", type=float, nargs="*", default=[1e9, 1e11, 1e13])
    ap.add_argument("--step-km", type=float, default=2.5)
    ap.add_argument("--simulate-pulses", type=int, default=0, help="also run sessions of N pulses")
    ap.add_argument("--distances", type=float, nargs="*", default=[0, 25, 50])
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    args.outdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    lengths = [float(x) for x in np.arange(0, 200 + 1e-9, args.step_km)]
    y0 = 1 - (1 - GYS["dark_count_probability"]) ** 2
    curves = {f"finite_N={n:.0e}": [finite_rate(L, n) for L in lengths] for n in args.blocks}
    curves["asymptotic_vacuum_weak_decoy"] = [finite_rate(L, 1e18, asymptotic=True) for L in lengths]
    curves["gllp_infinite_decoy"] = [
        PROBS[0] * gllp_key_rate(transmittance(L, GYS["attenuation_db_per_km"], GYS["detector_efficiency"]), y0,
                                 GYS["misalignment_error"], MU, F_EC, q=P_Z**2) for L in lengths]
    curves["plob"] = [float(plob_bound(transmittance(L, GYS["attenuation_db_per_km"], 1.0))) for L in lengths]
    points = []
    if args.simulate_pulses:
        for i, L in enumerate(args.distances):
            topo = parse_topology({"nodes": ["alice", "bob"], "links": [{"nodes": ["alice", "bob"], "length_km": L,
                                                                          **GYS}]})
            sid = f"sweep{i}"
            kw = dict(mu=MU, nu=NU, p_signal=PROBS[0], p_decoy=PROBS[1], p_vacuum=PROBS[2], p_z=P_Z, f_ec=F_EC)
            out = run_local_session(topo, {
                "alice": (bb84_alice, BB84Params(peer="bob", n_pulses=args.simulate_pulses, session_id=sid,
                                                 raise_on_abort=False, **kw)),
                "bob": (bb84_bob, BB84Params(peer="alice", session_id=sid, raise_on_abort=False))}, seed=args.seed + i)
            a = out["alice"]
            points.append({"length_km": L, "n_pulses": a.n_pulses, "final_bits": a.final_bits,
                           "rate_per_pulse": a.key_rate_per_pulse, "asymptotic_bits": a.asymptotic_bits,
                           "qber": a.qber, "aborted": a.aborted})
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, ys in curves.items():
        ys_plot = [y if y > 0 else np.nan for y in ys]
        style = {"plob": "k--", "gllp_infinite_decoy": "g:", "asymptotic_vacuum_weak_decoy": "b-"}.get(name, "-")
        ax.semilogy(lengths, ys_plot, style, label=name.replace("_", " "))
    for p in points:
        if p["final_bits"] > 0:
            ax.semilogy([p["length_km"]], [p["rate_per_pulse"]], "ro")
    ax.set_xlabel("fiber length (km)")
    ax.set_ylabel("secret key bits per pulse")
    ax.set_title("decoy BB84, GYS link: finite-key (eps_sec=1e-10, eps_cor=1e-15)")
    ax.set_ylim(1e-9, 1)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    png = args.outdir / "qkd_sweep.png"
    fig.savefig(png, dpi=120, bbox_inches="tight")
    reach = {name: max([L for L, y in zip(lengths, ys) if y > 0], default=0.0) for name, ys in curves.items()
             if name != "plob"}
    js = args.outdir / "qkd_sweep.json"
    js.write_text(json.dumps({"link": GYS, "mu": MU, "nu": NU, "f_ec": F_EC, "probs": PROBS, "p_z": P_Z,
                              "lengths_km": lengths, "curves": curves, "reach_km": reach, "points": points}))
    print(json.dumps({"json": str(js), "png": str(png), "reach_km": reach, "points": points,
                      "wall_s": round(time.perf_counter() - t0, 2)}))


if __name__ == "__main__":
    main()
