"""The qubit directory of a location node: which qubits are here and who holds their state.

For every qubit located at this node the directory keeps a *holder hint* with the epoch at which that
holder received the state (hints only ever move to a newer epoch, so a late message can never make a
hint older) and a group-size hint (which way a merge should go). It also remembers qubits that left
by a quantum send (to name their new location in errors) and qubits that were lost with a dead peer.
Every method expects the node's lock held.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence

from qemu_net.errors import NotColocated, QubitNotFound, WrongLocation
from qemu_net.node.holdings import Holdings
from qemu_net.node.ops import GateOp, Op

#: Departed and lost qubits remembered for error messages (oldest forgotten first).
_REMEMBERED = 200_000


def _remember(d: collections.OrderedDict[str, str], q: str, v: str) -> None:
    d[q] = v
    d.move_to_end(q)
    if len(d) > _REMEMBERED:
        d.popitem(last=False)


class Directory:
    """Qubits located at one node (lock held for every call)."""

    def __init__(self, name: str, holdings: Holdings, id_prefix: str = "") -> None:
        self.name = name
        self._own_prefix = f"{name}."
        self._id_prefix = id_prefix or self._own_prefix
        self._held = holdings
        self.holder: dict[str, str] = {}
        self.epoch: dict[str, int] = {}
        self.size: dict[str, int] = {}
        self.departed: collections.OrderedDict[str, str] = collections.OrderedDict()
        self.lost: collections.OrderedDict[str, str] = collections.OrderedDict()

    def __contains__(self, q: str) -> bool:
        return q in self.holder

    def __len__(self) -> int:
        return len(self.holder)

    def add(self, q: str, holder: str, size: int, epoch: int = 0) -> None:
        self.holder[q] = holder
        self.size[q] = size
        if epoch:
            self.epoch[q] = epoch
        self.departed.pop(q, None)
        self.lost.pop(q, None)

    def remove(self, q: str) -> None:
        self.holder.pop(q, None)
        self.epoch.pop(q, None)
        self.size.pop(q, None)

    def depart(self, q: str, to: str) -> None:
        """Qubit q left this location over a quantum link for node `to`."""
        self.remove(q)
        _remember(self.departed, q, to)

    def lose(self, q: str, reason: str) -> None:
        self.remove(q)
        _remember(self.lost, q, reason)

    def hint(self, q: str, holder: str, epoch: int, size: int | None = None) -> bool:
        """Learn that `holder` received q's state at `epoch`; ignored if older than what we know."""
        if q not in self.holder or epoch < self.epoch.get(q, 0):
            return False
        self.holder[q] = holder
        if epoch:
            self.epoch[q] = epoch
        if size:
            self.size[q] = size
        return True

    def check_located(self, q: str) -> None:
        """Raise the right error for a qubit that is not located here."""
        if q in self.holder:
            return
        reason = self.lost.get(q)
        if reason is not None:
            raise QubitNotFound(f"qubit {q!r} at {self.name!r} was lost: {reason}", qubit=q)
        where = self._held.located_at.get(q) or self.departed.get(q)
        if where is not None and where != self.name:
            raise WrongLocation(
                f"qubit {q!r} is located at node {where!r}, not at {self.name!r}: operate on it there",
                qubit=q,
                location=where,
            )
        if q.startswith(self._own_prefix) and not q.startswith(self._id_prefix):
            raise QubitNotFound(
                f"qubit {q!r} belongs to an earlier run of node {self.name!r}, which has restarted since: its "
                f"state is lost (qubits of this run are named {self._id_prefix}<n>)",
                qubit=q,
            )
        raise QubitNotFound(f"no qubit {q!r} at node {self.name!r}", qubit=q)

    def check_batch(self, ops: Sequence[Op], qs: Sequence[str]) -> None:
        """Every qubit of `ops` (`qs`) is located here, and the qubits of each multi-qubit gate together."""
        holder = self.holder
        for op in ops:
            if isinstance(op, GateOp) and len(op.qubits) > 1:
                elsewhere = {}
                for q in op.qubits:
                    if q not in holder:
                        where = self._held.located_at.get(q) or self.departed.get(q)
                        if where:
                            elsewhere[q] = where
                if elsewhere:
                    desc = ", ".join(f"{q!r} is at {w!r}" for q, w in elsewhere.items())
                    raise NotColocated(
                        f"a {len(op.qubits)}-qubit gate needs all its qubits at one node; at {self.name!r}: "
                        f"{desc}. Use a nonlocal gate protocol or teleport a qubit first",
                        qubits=list(op.qubits),
                    )
        for q in qs:
            if q not in holder:
                self.check_located(q)


__all__ = ["Directory"]
