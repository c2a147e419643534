"""Quantum key distribution: decoy-state BB84 and E91/BBM92 as roles over `NodeContext`, vectorised
pulse trains, post-processing (sifting, decoy estimation, Cascade, verification, privacy
amplification), a key store for applications, and the closed-form rates they are checked against.

Pure Python + numpy: nothing here imports gRPC (or Cirq; the per-qubit Cirq reference path lives in
`qemu_net.qkd.reference` and is imported only by tests).
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qemu_net.qkd.keystore import DeliveredKey, KeyReservation, KeysExhausted, KeyStore
    from qemu_net.qkd.roles import BB84Params, E91Params, QkdResult, bb84_alice, bb84_bob, e91_alice, e91_bob

# Names resolve on first use (PEP 562), so importing one light submodule (`qemu_net.qkd.delivered`, as the
# SDK's key calls do) does not load numpy and the protocol roles.
_HOME = {
    "DeliveredKey": "keystore", "KeyReservation": "keystore", "KeysExhausted": "keystore", "KeyStore": "keystore",
    "BB84Params": "roles", "E91Params": "roles", "QkdResult": "roles", "bb84_alice": "roles", "bb84_bob": "roles",
    "e91_alice": "roles", "e91_bob": "roles",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'qemu_net.qkd' has no attribute {name!r}")
    return getattr(importlib.import_module(f"qemu_net.qkd.{home}"), name)


__all__ = [
    "BB84Params",
    "DeliveredKey",
    "E91Params",
    "KeyReservation",
    "KeyStore",
    "KeysExhausted",
    "QkdResult",
    "bb84_alice",
    "bb84_bob",
    "e91_alice",
    "e91_bob",
]
