"""The sweep script writes its CSV and PNG for a short run; the QKD package never imports gRPC or Cirq."""

import csv
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_sweep_writes_table_and_plot(tmp_path):
    """bench/qkd_sweep.py OUTDIR produces a CSV row per distance and a PNG."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "qkd_sweep.py"), str(tmp_path), "--pulses", "1000000",
         "--distances", "5", "60", "200"],
        capture_output=True, text=True, timeout=120, check=True,
    )
    info = json.loads(out.stdout.strip().splitlines()[-1])
    rows = list(csv.DictReader(open(info["csv"])))
    assert [float(r["length_km"]) for r in rows] == [5.0, 60.0, 200.0]
    assert int(rows[0]["final_bits"]) > 0 and int(rows[2]["final_bits"]) == 0 and rows[2]["aborted"]
    assert Path(info["png"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_qkd_package_imports_no_grpc_or_cirq():
    """Importing the QKD stack (roles, key store, local context) loads neither grpc nor cirq."""
    code = ("import sys, qemu_net.qkd, qemu_net.qkd.local, qemu_net.qkd.theory; "
            "print(any(m == 'grpc' or m.startswith('grpc.') for m in sys.modules), 'cirq' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["False", "False"]
