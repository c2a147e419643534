"""Quantum key distribution: decoy-state BB84 and E91/BBM92 as roles over `NodeContext`, vectorised
pulse trains, post-processing (sifting, decoy estimation, Cascade, verification, privacy
amplification), a key store for applications, and the closed-form rates they are checked against.

Pure Python + numpy: nothing here imports gRPC (or Cirq; the per-qubit Cirq reference path lives in
`qemu_net.qkd.reference` and is imported only by tests).
"""

from qemu_net.qkd.keystore import DeliveredKey, KeyReservation, KeysExhausted, KeyStore
from qemu_net.qkd.roles import BB84Params, E91Params, QkdResult, bb84_alice, bb84_bob, e91_alice, e91_bob

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
