"""The end-to-end QKD benchmark runs (short) and reports equal keys and the same-run references."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_qkd_e2e_short_run():
    """bench/bench_qkd_e2e.py prints JSON with a rate per link and distance, keys equal at both ends."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_qkd_e2e.py"), "--repeats", "1", "--pulses-1km", "2000000",
         "--pulses-50km", "2000000", "--p-z", "0.6", "--skip-inprocess"],
        capture_output=True, text=True, timeout=180, check=True,
    )
    d = json.loads(out.stdout)
    assert d["getinfo_rtt_ms"] > 0
    for key in ("e2e_apd_1km", "e2e_apd_50km", "e2e_snspd_1km", "e2e_snspd_50km"):
        r = d[key]
        assert r["key_analysis"] == "lim2014-decoy-bb84" and r["eps_sec"] == 1e-10
        # a key where the finite-key bound allows one, identical at both ends; otherwise a reason
        assert (r["final_bits"] > 0 and r["keys_equal"]) or (r["final_bits"] == 0 and r["aborted"])
    assert d["e2e_snspd_1km"]["final_bits"] > 0 and d["e2e_snspd_1km"]["secret_bits_per_wall_s"] > 0
