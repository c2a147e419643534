"""OpenQASM 2/3 programs as distributed circuits: import, placement of qubits on nodes, checks.

`load_qasm` reads a program with Cirq's importer (`cirq.contrib.qasm_import`, which needs `ply`) after a
small translation of the OpenQASM 3 statements that have no effect on a state but that Cirq's parser
does not know. The subset that runs:

* headers ``OPENQASM 2.0;`` / ``OPENQASM 3.0;`` (also ``OPENQASM 3;``), ``include "qelib1.inc";`` /
  ``include "stdgates.inc";``;
* registers ``qreg q[n];`` / ``creg c[n];`` and ``qubit[n] q;`` / ``qubit q;`` / ``bit[n] c;`` / ``bit c;``;
* every gate of qelib1.inc / stdgates.inc Cirq knows (x y z h s sdg t tdg sx rx ry rz p u1 u2 u3 U id cx
  CX cy cz ch cp cu1 cu3 crx cry crz swap ccx cswap rxx rzz ...), user ``gate`` definitions, constant
  parameter expressions (``pi``, + - * / ^, sin cos tan exp ln sqrt);
* ``measure q -> c;``, ``measure q[i] -> c[j];``, ``c = measure q;``, ``c[j] = measure q[i];``;
* ``barrier`` (dropped here: it orders nothing in an emulated state) and ``gphase(...)`` (a global phase,
  dropped here: no measurement or fidelity can see it).

Refused with a clear error: classical control (``if``), ``reset`` and mid-circuit logic are parsed by Cirq
but refused by the distributed compiler (`qemu_net.protocols.circuits.compile_circuit`); OpenQASM 3 control
flow (``for``, ``while``, ``def``), ``const`` and ``input`` parameters, gate modifiers (``ctrl @``,
``inv @``, ``pow @``), timing (``delay``, ``box``, ``durations``) are refused by Cirq's parser, and the
error names the line.

`placement` turns ``q[0]=alice,q[1]=alice,q[2:4]=bob,r=carol`` into the assignment `compile_circuit` takes
(Cirq names qubit ``q[i]`` of register ``q`` ``NamedQubit("q_i")``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from qemu_net.errors import InvalidOperation

if TYPE_CHECKING:
    import cirq

_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
_BARRIER = re.compile(r"(^|[;{}\s])barrier\b[^;]*;")
_GPHASE = re.compile(r"(^|[;{}\s])gphase\s*\([^;]*\)\s*;")
_VERSION = re.compile(r"OPENQASM\s+(\d+)(?:\.(\d+))?\s*;")
_SINGLE_QUBIT_DECL = re.compile(r"(^|[;{}\s])(qubit|bit)\s+([A-Za-z_][A-Za-z0-9_]*)\s*;")


def translate(text: str) -> str:
    """The OpenQASM text Cirq's parser accepts: comments removed, ``barrier``/``gphase`` dropped,
    ``OPENQASM 3;`` written ``3.0``, ``qubit q;`` written ``qubit[1] q;`` (whose qubit Cirq names ``q_0``)."""
    text = _COMMENT.sub("", text)
    m = _VERSION.search(text)
    if m is None:
        raise InvalidOperation("not an OpenQASM program: it has no 'OPENQASM 2.0;' or 'OPENQASM 3.0;' header")
    major, minor = m.group(1), m.group(2) or "0"
    if f"{major}.{minor}" not in ("2.0", "3.0"):
        raise InvalidOperation(f"OpenQASM {major}.{minor} is not supported; use 2.0 or 3.0")
    text = text[:m.start()] + f"OPENQASM {major}.{minor};" + text[m.end():]
    text = _BARRIER.sub(r"\1", text)
    text = _GPHASE.sub(r"\1", text)
    if major == "3":
        text = _SINGLE_QUBIT_DECL.sub(r"\1\2[1] \3;", text)
    return text


def load_qasm(text: str) -> cirq.Circuit:
    """Parse an OpenQASM 2.0 or 3.0 program (the subset in this module's docstring) into a Cirq circuit."""
    try:
        from cirq.contrib.qasm_import import QasmException, circuit_from_qasm
    except ImportError as exc:  # ply missing
        raise InvalidOperation(f"OpenQASM import needs Cirq's QASM parser and 'ply' ({exc}): pip install ply") from exc
    try:
        return circuit_from_qasm(translate(text))
    except QasmException as exc:
        raise InvalidOperation(f"OpenQASM: {exc.message}") from None


_PLACE_ITEM = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)(?::(\d+))?\])?=([A-Za-z0-9_.-]+)$")


def _qubit_name(reg: str, i: int) -> str:
    return f"{reg}_{i}"


def registers(circuit: cirq.AbstractCircuit) -> dict[str, list[int]]:
    """register name -> sorted indices of its qubits that the circuit uses (from Cirq's ``reg_i`` names)."""
    out: dict[str, list[int]] = {}
    for q in circuit.all_qubits():
        name = str(q)
        reg, _, idx = name.rpartition("_")
        if not reg or not idx.isdigit():
            raise InvalidOperation(f"qubit {name!r} is not named like an OpenQASM register element")
        out.setdefault(reg, []).append(int(idx))
    return {k: sorted(v) for k, v in out.items()}


def placement(spec: str, circuit: cirq.AbstractCircuit) -> dict[cirq.Qid, str]:
    """Parse ``q[0]=alice,q[1:3]=bob,r=carol`` (``q[a:b]`` is a to b inclusive, as in OpenQASM 3) into the
    node of every qubit the circuit uses. Every used qubit must be placed exactly once."""
    import cirq

    regs = registers(circuit)
    where: dict[str, str] = {}
    for raw in (s.strip() for s in spec.split(",")):
        if not raw:
            continue
        m = _PLACE_ITEM.match(raw.replace(" ", ""))
        if m is None:
            raise InvalidOperation(f"--place: cannot read {raw!r}; write REG[i]=NODE, REG[i:j]=NODE or REG=NODE")
        reg, lo, hi, node = m.group(1), m.group(2), m.group(3), m.group(4)
        if reg not in regs:
            raise InvalidOperation(f"--place: {raw!r} names register {reg!r}; the circuit's quantum registers are "
                                   f"{', '.join(sorted(regs)) or 'none'}")
        if lo is None:
            indices = regs[reg]
        else:
            a, b = int(lo), int(hi) if hi is not None else int(lo)
            if b < a:
                raise InvalidOperation(f"--place: empty range in {raw!r}")
            indices = list(range(a, b + 1))
        for i in indices:
            name = _qubit_name(reg, i)
            if i not in regs[reg]:
                raise InvalidOperation(f"--place: {reg}[{i}] is not a qubit the circuit uses "
                                       f"(it uses {reg}[{', '.join(map(str, regs[reg]))}])")
            if name in where and where[name] != node:
                raise InvalidOperation(f"--place: {reg}[{i}] is placed twice ({where[name]!r} and {node!r})")
            where[name] = node
    missing = [f"{r}[{i}]" for r, idx in sorted(regs.items()) for i in idx if _qubit_name(r, i) not in where]
    if missing:
        raise InvalidOperation(f"--place: no node for {', '.join(missing)}")
    return {q: where[str(q)] for q in circuit.all_qubits() if isinstance(q, cirq.NamedQubit)}


def unitary_part(circuit: cirq.AbstractCircuit) -> cirq.Circuit:
    """The circuit without its terminal measurements (refused if a measurement is not terminal)."""
    import cirq

    if not circuit.are_all_measurements_terminal():
        raise InvalidOperation("the circuit measures before its end: a final state is defined only for circuits "
                               "whose measurements are all terminal")
    return cirq.Circuit(op for op in circuit.all_operations() if not cirq.is_measurement(op))


@dataclass(frozen=True)
class QasmProgram:
    """An OpenQASM program placed on nodes."""

    circuit: cirq.Circuit
    assignment: Mapping[cirq.Qid, str]

    @property
    def qubits(self) -> list[cirq.Qid]:
        return sorted(self.circuit.all_qubits())

    @property
    def nodes(self) -> list[str]:
        return sorted(set(self.assignment.values()))


def load_placed(text: str, spec: str) -> QasmProgram:
    circuit = load_qasm(text)
    if not circuit.all_qubits():
        raise InvalidOperation("the OpenQASM program uses no qubit")
    return QasmProgram(circuit, placement(spec, circuit))


__all__ = ["QasmProgram", "load_placed", "load_qasm", "placement", "registers", "translate", "unitary_part"]
