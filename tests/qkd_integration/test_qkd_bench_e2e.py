"""The end-to-end QKD benchmark runs (short) and reports equal keys and the same-run references."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_qkd_e2e_short_run():
    """bench/bench_qkd_e2e.py prints JSON with a rate per link and distance, keys equal at both ends."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_qkd_e2e.py"), "--repeats", "1", "--pulses-1km", "1000000",
         "--pulses-50km", "2000000", "--skip-inprocess"],
        capture_output=True, text=True, timeout=180, check=True,
    )
    d = json.loads(out.stdout)
    assert d["getinfo_rtt_ms"] > 0
    for key in ("e2e_apd_1km", "e2e_apd_50km", "e2e_snspd_1km", "e2e_snspd_50km"):
        assert d[key]["keys_equal"] and d[key]["final_bits"] > 0 and d[key]["secret_bits_per_wall_s"] > 0
