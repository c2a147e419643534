"""The sweep script writes its JSON and PNG; the QKD package never imports gRPC or Cirq."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_sweep_writes_curves_and_plot(tmp_path):
    """bench/qkd_sweep.py: finite-key curves for 3 block sizes stay below the asymptotic curve, which
    stays below PLOB; larger blocks reach further; measured sessions past the reach give no key."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "qkd_sweep.py"), str(tmp_path), "--step-km", "10",
         "--simulate-pulses", "1000000", "--distances", "160"],
        capture_output=True, text=True, timeout=180, check=True,
    )
    info = json.loads(out.stdout.strip().splitlines()[-1])
    data = json.loads(Path(info["json"]).read_text())
    c = data["curves"]
    finite = [k for k in c if k.startswith("finite")]
    assert len(finite) == 3
    for k in finite:
        assert all(f <= a + 1e-15 for f, a in zip(c[k], c["asymptotic_vacuum_weak_decoy"]))
    assert all(a <= p for a, p in zip(c["asymptotic_vacuum_weak_decoy"], c["plob"]))
    reach = [data["reach_km"][k] for k in finite]
    assert reach == sorted(reach) and reach[0] < reach[-1] <= data["reach_km"]["asymptotic_vacuum_weak_decoy"] <= 141
    assert info["points"][0]["final_bits"] == 0 and info["points"][0]["aborted"]
    assert Path(info["png"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_qkd_package_imports_no_grpc_or_cirq():
    """Importing the QKD stack (roles, key store, local context) loads neither grpc nor cirq."""
    code = ("import sys, qemu_net.qkd, qemu_net.qkd.local, qemu_net.qkd.theory; "
            "print(any(m == 'grpc' or m.startswith('grpc.') for m in sys.modules), 'cirq' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["False", "False"]
