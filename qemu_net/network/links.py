"""Link-layer physics used by the node: photon loss, heralded EPR generation, pair states, batch sampling.

Heralded generation (one-sided): the source sits at the generating node A, one photon of the pair
crosses the fiber to B. An attempt succeeds (B's detector clicks) with probability
``p = 10^(-aL/10) * eta_det``; a dark count fakes a herald with probability ``(1 - p) * p_dark``, and
such a "pair" is maximally mixed. Attempts are sequential: each takes the longer of the source period
(1 / attempt_rate_hz) and the round trip 2L x 5 us/km for B's herald to come back, so ``k`` attempts take
``k`` periods. A's half waits one round trip in memory for its herald and decoheres meanwhile.

The delivered pair: the source's state (Werner of fidelity F, or dephased), B's half depolarised in
transit, the dark-count admixture, then A's memory decay for the round trip.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from qemu_net.errors import InvalidOperation, ProtocolAborted
from qemu_net.network.topology import LinkSpec, NodeSpec
from qemu_net.quantum import channels
from qemu_net.quantum.register import BASIS_ROTATION, DTYPE

PHI_PLUS = np.array([1, 0, 0, 1], dtype=DTYPE) / np.sqrt(2)
_BELL = [
    PHI_PLUS,
    np.array([1, 0, 0, -1], dtype=DTYPE) / np.sqrt(2),  # Phi-
    np.array([0, 1, 1, 0], dtype=DTYPE) / np.sqrt(2),  # Psi+
    np.array([0, 1, -1, 0], dtype=DTYPE) / np.sqrt(2),  # Psi-
]


def werner(fidelity: float) -> np.ndarray:
    """Bell-diagonal state: `fidelity` on |Phi+>, (1 - fidelity)/3 on each other Bell state."""
    w = [fidelity] + [(1 - fidelity) / 3] * 3
    return sum(p * np.outer(b, b.conj()) for p, b in zip(w, _BELL))


def dephased(fidelity: float) -> np.ndarray:
    """|Phi+> with a phase flip of probability 1 - fidelity (mixture of Phi+ and Phi-)."""
    return fidelity * np.outer(_BELL[0], _BELL[0].conj()) + (1 - fidelity) * np.outer(_BELL[1], _BELL[1].conj())


def _kraus_on(rho: np.ndarray, kraus, which: int) -> np.ndarray:
    out = np.zeros_like(rho)
    eye = np.eye(2, dtype=DTYPE)
    for k in kraus:
        big = np.kron(k, eye) if which == 0 else np.kron(eye, k)
        out += big @ rho @ big.conj().T
    return out


@dataclass(frozen=True)
class LinkModel:
    link: LinkSpec
    a: NodeSpec  # the generating end (holds the source)
    b: NodeSpec

    @classmethod
    def for_link(cls, link: LinkSpec, a: NodeSpec, b: NodeSpec) -> LinkModel:
        return cls(link, a, b)

    @property
    def photon_survival(self) -> float:
        return self.link.transmissivity

    @property
    def latency_ns(self) -> float:
        return self.link.latency_ns

    @property
    def transmission_depolarize(self) -> float:
        return self.link.transmission_depolarize

    @cached_property
    def herald_probability(self) -> float:
        p = self.photon_survival
        return p + (1 - p) * self.link.dark_count_probability

    @cached_property
    def false_herald_fraction(self) -> float:
        p = self.photon_survival
        ps = self.herald_probability
        return 0.0 if ps == 0 else (1 - p) * self.link.dark_count_probability / ps

    @property
    def period_ns(self) -> float:
        return max(1e9 / self.link.attempt_rate_hz, 2 * self.link.latency_ns)

    @property
    def ideal(self) -> bool:
        return (
            self.link.source_fidelity == 1.0
            and self.link.transmission_depolarize == 0
            and self.false_herald_fraction == 0
            and (self.a.t1_s is None and self.a.t2_s is None or self.link.latency_ns == 0)
        )

    def sample_attempts(self, rng: np.random.Generator) -> int:
        p = self.herald_probability
        if p <= 0:
            raise ProtocolAborted("the link cannot herald a pair: photon survival and dark counts are zero")
        k = int(rng.geometric(p))
        if k > self.link.max_attempts:
            raise ProtocolAborted(
                f"no herald within max_attempts={self.link.max_attempts} (success probability {p:.3g} per attempt)"
            )
        return k

    def sample_total_attempts(self, rng: np.random.Generator, count: int) -> int:
        p = self.herald_probability
        if p <= 0:
            raise ProtocolAborted("the link cannot herald a pair: photon survival and dark counts are zero")
        return int(count + rng.negative_binomial(count, p)) if p < 1 else count

    def herald_time_ns(self, attempts: int) -> float:
        return attempts * self.period_ns

    def batch_time_ns(self, attempts: int, count: int) -> float:
        return attempts * self.period_ns

    @cached_property
    def _rho(self) -> np.ndarray:
        f = self.link.source_fidelity
        rho = werner(f) if self.link.source_model == "werner" else dephased(f)
        if self.link.transmission_depolarize > 0:
            rho = _kraus_on(rho, channels.depolarize_kraus(self.link.transmission_depolarize), 1)
        fh = self.false_herald_fraction
        if fh > 0:
            rho = (1 - fh) * rho + fh * np.eye(4, dtype=DTYPE) / 4
        mem = channels.memory_kraus(2 * self.link.latency_ns, self.a.t1_s, self.a.t2_s)
        if mem is not None:
            rho = _kraus_on(rho, mem, 0)
        rho = rho.astype(DTYPE)
        rho.setflags(write=False)
        return rho

    def pair_density_matrix(self) -> np.ndarray:
        return self._rho

    def pair_state(self) -> tuple[np.ndarray, bool]:
        """The delivered pair as a register tensor: a state vector when ideal, else a density matrix."""
        if self.ideal:
            return PHI_PLUS.reshape(2, 2).copy(), False
        return self._rho.reshape(2, 2, 2, 2).copy(), True


def _outcome_table(rho: np.ndarray) -> np.ndarray:
    """P(a, b | basis_a, basis_b) as cumulative tables, shape (3, 3, 4)."""
    rots = [BASIS_ROTATION[b] if BASIS_ROTATION[b] is not None else np.eye(2, dtype=DTYPE) for b in "ZXY"]
    table = np.empty((3, 3, 4))
    for i, ra in enumerate(rots):
        for j, rb in enumerate(rots):
            u = np.kron(ra, rb)
            p = np.real(np.diag(u @ rho @ u.conj().T))
            p = np.clip(p, 0, None)
            table[i, j] = np.cumsum(p / p.sum())
    return table


def sample_pair_outcomes(
    rng: np.random.Generator,
    rho: np.ndarray,
    bases_a: np.ndarray,
    bases_b: np.ndarray,
    *,
    flip_a: float = 0.0,
    flip_b: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Sample outcomes of N pairs in state `rho`, pair i measured in (bases_a[i], bases_b[i]) (0=Z, 1=X, 2=Y).

    Exact Born probabilities of the 2-qubit state per basis combination, one uniform draw per pair.
    Readout errors flip each side's bit independently.
    """
    if bases_a.shape != bases_b.shape:
        raise InvalidOperation("one basis per pair is needed at each end")
    table = _outcome_table(rho)
    cum = table[bases_a, bases_b]  # (N, 4)
    u = rng.random(bases_a.shape[0])
    idx = (u[:, None] >= cum[:, :3]).sum(axis=1)
    a = (idx >> 1).astype(np.uint8)
    b = (idx & 1).astype(np.uint8)
    if flip_a > 0:
        a ^= (rng.random(a.shape[0]) < flip_a).astype(np.uint8)
    if flip_b > 0:
        b ^= (rng.random(b.shape[0]) < flip_b).astype(np.uint8)
    return a, b
