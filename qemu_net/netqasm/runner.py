"""Run one role of a NetQASM application in this process, attached to its node.

    python -m qemu_net.netqasm.runner SPEC.json

SPEC names the application directory, the role, where every role runs (role -> node), every node's
address, the role's inputs and the file the role's return value is written to (JSON). The role's
``app_<role>.py`` is imported unmodified, with its directory first on ``sys.path`` (so its own
modules import as they would under ``netqasm simulate``), after ``netqasm.sdk.external`` has been
pointed at qemu_net's connection and sockets; then its ``main(app_config=..., **inputs)`` runs.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np


def to_json(value: Any) -> Any:
    """A role's return value as JSON data (numpy arrays and complex numbers included)."""
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_json(value.tolist())
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (complex, np.complexfloating)):
        return {"re": float(value.real), "im": float(value.imag)}
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


def run_role(spec: dict[str, Any]) -> Any:
    # Applications take their simulator branches (state access) under netqasm's default simulator value.
    os.environ["NETQASM_SIMULATOR"] = "netsquid"
    from qemu_net.netqasm import external

    external.install()
    from qemu_net.netqasm import sim_states

    sim_states.install()
    from netqasm.runtime.app_config import AppConfig
    from netqasm.sdk.config import LogConfig

    from qemu_net.netqasm.connection import bind

    role = spec["role"]
    bind(spec["roles"], spec["addresses"], timeout_s=spec.get("timeout_s"), tls_dir=spec.get("tls_dir"),
         identity=spec.get("tls_identity"))
    app_dir = Path(spec["app_dir"]).resolve()
    sys.path.insert(0, str(app_dir))
    path = app_dir / f"app_{role}.py"
    mod_spec = importlib.util.spec_from_file_location(f"app_{role}", path)
    if mod_spec is None or mod_spec.loader is None:
        raise FileNotFoundError(path)
    module = importlib.util.module_from_spec(mod_spec)
    sys.modules[mod_spec.name] = module
    mod_spec.loader.exec_module(module)
    inputs = dict(spec.get("inputs") or {})
    log_dir = spec.get("log_dir")
    if log_dir:
        Path(log_dir).mkdir(parents=True, exist_ok=True)
    log_config = LogConfig(log_subroutines_dir=log_dir, app_dir=str(app_dir), log_dir=log_dir)
    config = AppConfig(app_name=role, node_name=spec["roles"][role], main_func=module.main,
                       log_config=log_config, inputs=inputs)
    seed = spec.get("seed")
    if seed is not None:  # the application's own random choices (random, numpy's global generator)
        import hashlib
        import random

        digest = int.from_bytes(hashlib.sha256(f"{seed}/{role}".encode()).digest()[:4], "little")
        random.seed(digest)
        np.random.seed(digest)
    rounds = spec.get("rounds")
    t0 = time.perf_counter()
    try:
        if rounds is None:
            return module.main(app_config=config, **inputs)
        # As `netqasm simulate --num-rounds`: the application runs this many times, one after the other.
        return [module.main(app_config=config, **inputs) for _ in range(int(rounds))]
    finally:
        _timing["main_s"] = time.perf_counter() - t0


_timing: dict[str, float] = {}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m qemu_net.netqasm.runner SPEC.json", file=sys.stderr)
        return 2
    spec = json.loads(Path(argv[0]).read_text())
    out = Path(spec["result_file"])
    try:
        result = run_role(spec)
    except BaseException as exc:
        out.write_text(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}",
                                   "traceback": traceback.format_exc()}))
        return 1
    data = {"ok": True, "result": to_json(result), "main_s": _timing.get("main_s", 0.0)}
    out.write_text(json.dumps(data))
    if spec.get("print_result"):
        print(json.dumps({"role": spec["role"], **data}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
