"""How much memory a QKD role needs, and the hook through which a node admits or refuses a session.

A role's working set grows with the pulse count: Alice keeps three bytes per pulse (bit, basis,
intensity) until Bob's sift message arrives, and both ends keep arrays per detection (slot indices,
bits, bases, classes, the sifted and corrected key) through sifting and post-processing. One pulse-
train block adds its temporaries (the prepared train, the channel's arrival record, the detector's
draws). Measured with tracemalloc on decoy BB84 over an ideal link (detection fraction 0.295, both
roles in one process): 21 bytes per pulse in all, i.e. about 71 bytes per detection for both ends;
`estimate_bytes` charges each role 48 bytes per detection, at the largest detection fraction the
source allows (1 - exp(-mu) for weak coherent pulses, 1 for pairs: every pair can click), so it
over- rather than under-estimates.

The pulse trains themselves are streamed: a session never holds more than one block in flight, and
`max_block` bounds a block to a fraction of the memory available, so a large request is chunked,
not held whole. What cannot be chunked (the per-detection arrays of one finite-key block) is checked
against the node's memory limit before any pulse is made: `admit` calls the hook a node installs
(`qemu_net.node.memlimit`) and raises `MemoryFull` (RESOURCE_EXHAUSTED) when the session cannot fit.
Without a hook (in-process runs, sweeps) nothing is refused.
"""

from __future__ import annotations

import math
from collections.abc import Callable

#: Bytes per pulse that Alice keeps for the whole session (bit, basis, intensity).
ALICE_BYTES_PER_PULSE = 3
#: Bytes per detection charged to each role (measured ~71 for both ends together).
BYTES_PER_DETECTION = 48
#: Temporaries per pulse of the block being prepared, transmitted or detected.
BLOCK_BYTES_PER_PULSE = 40
#: The smallest block `max_block` shrinks a request to.
MIN_BLOCK = 1 << 16

#: Installed by the node: (what, bytes) -> None, raising MemoryFull when `bytes` does not fit.
ADMISSION: Callable[[str, int], None] | None = None


def detection_fraction(protocol: str, mu: float = 0.5, nu: float = 0.1) -> float:
    """An upper bound on the fraction of slots that produce a detection."""
    if protocol == "e91":
        return 1.0
    return 1.0 - math.exp(-max(mu, nu, 0.0))


def estimate_bytes(role: str, n: int, block: int, *, protocol: str = "bb84", mu: float = 0.5,
                   nu: float = 0.1) -> int:
    """Upper estimate of one role's working set for `n` pulses sent in blocks of `block`."""
    det = detection_fraction(protocol, mu, nu)
    per_pulse = (ALICE_BYTES_PER_PULSE if role == "alice" else 0) + BYTES_PER_DETECTION * det
    return int(n * per_pulse + min(block, n) * BLOCK_BYTES_PER_PULSE)


def max_block(block: int, available_bytes: int | None) -> int:
    """`block`, shrunk so one block's temporaries take at most an eighth of `available_bytes`."""
    if available_bytes is None:
        return block
    cap = max(MIN_BLOCK, available_bytes // (8 * BLOCK_BYTES_PER_PULSE))
    return min(block, cap)


def admit(what: str, nbytes: int) -> None:
    """Ask the node whether `nbytes` more fit (raises MemoryFull if not); no-op without a node hook."""
    hook = ADMISSION
    if hook is not None:
        hook(what, nbytes)


__all__ = ["ADMISSION", "admit", "detection_fraction", "estimate_bytes", "max_block"]
