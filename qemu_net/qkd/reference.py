"""The per-qubit reference path: BB84 with a single-photon source simulated photon by photon in Cirq.

Used by the tests to check the vectorised path (`qemu_net.qkd.pulses`) statistically; slow by design
(one `cirq.DensityMatrixSimulationState` per photon, ~0.5 ms each). The physics is the same model:
each photon is a qubit prepared in |bit> (Z) or H|bit> (X); Eve (with probability ``eve_fraction``)
measures it in a random basis and re-prepares her outcome; misalignment is the exact channel
``rho -> (1 - e_d) rho + e_d Y rho Y`` (Y flips the polarisation in both bases); the photon reaches
Bob's detectors with probability ``eta``; Bob measures in his basis; each of his two detectors also
fires by itself with ``dark_count_probability``; a double click gives a random bit.

This module imports Cirq; nothing on a node's hot path imports it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cirq
import numpy as np


@dataclass(frozen=True)
class PerQubitStats:
    n: int
    clicks: int
    sifted: int
    errors: int

    @property
    def detection_rate(self) -> float:
        return self.clicks / self.n

    @property
    def qber(self) -> float:
        return self.errors / self.sifted if self.sifted else float("nan")


def bb84_per_qubit(
    n: int, *, eta: float, misalignment_error: float, dark_count_probability: float,
    eve_fraction: float = 0.0, seed: int = 0,
) -> PerQubitStats:
    """Simulate n single-photon BB84 slots photon by photon; returns clicks, sifted and error counts."""
    rng = np.random.default_rng(seed)
    prng = np.random.RandomState(seed)
    q = cirq.LineQubit(0)
    misalign = cirq.asymmetric_depolarize(p_y=misalignment_error)
    pd = dark_count_probability
    clicks = sifted = errors = 0
    for i in range(n):
        bit, a_basis, b_basis = (int(x) for x in rng.integers(0, 2, 3))
        state = cirq.DensityMatrixSimulationState(qubits=[q], initial_state=0, prng=prng)
        if bit:
            cirq.act_on(cirq.X(q), state)
        if a_basis:
            cirq.act_on(cirq.H(q), state)
        if rng.random() < eve_fraction:
            e_basis = int(rng.integers(0, 2))
            if e_basis:
                cirq.act_on(cirq.H(q), state)
            cirq.act_on(cirq.measure(q, key=f"eve{i}"), state)
            e_bit = int(state.log_of_measurement_results[f"eve{i}"][0])
            state = cirq.DensityMatrixSimulationState(qubits=[q], initial_state=0, prng=prng)
            if e_bit:
                cirq.act_on(cirq.X(q), state)
            if e_basis:
                cirq.act_on(cirq.H(q), state)
        if misalignment_error > 0:
            cirq.act_on(misalign(q), state)
        fired = [rng.random() < pd, rng.random() < pd]
        if rng.random() < eta:
            if b_basis:
                cirq.act_on(cirq.H(q), state)
            cirq.act_on(cirq.measure(q, key=f"bob{i}"), state)
            fired[int(state.log_of_measurement_results[f"bob{i}"][0])] = True
        if not (fired[0] or fired[1]):
            continue
        clicks += 1
        b_bit = int(rng.integers(0, 2)) if (fired[0] and fired[1]) else int(fired[1])
        if a_basis == b_basis:
            sifted += 1
            errors += int(b_bit != bit)
    return PerQubitStats(n, clicks, sifted, errors)


__all__ = ["PerQubitStats", "bb84_per_qubit"]
