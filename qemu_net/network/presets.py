"""Hardware presets: named sets of node and link values for platforms the field has built.

A topology names a preset per node or per link (``preset: nv-delft-2021``) or once at the top level
for every node and link that names none; every key the preset sets can still be set explicitly
beside it, and the explicit value wins. ``ideal`` is the explicit noiseless, lossless preset.

Every value carries where it comes from (`Sourced.basis`):

* ``paper``: the number is stated in the cited publication;
* ``representative``: a typical figure for the platform (the order of magnitude the cited work and
  its predecessors report), not a number quoted from one paper. Change it when you model a specific
  device.

docs/hardware.md lists every value with its source; `hardware_markdown` renders that table, and a
test keeps the two in agreement (regenerate: replace everything after "## Presets" in docs/hardware.md
with ``python -c "from qemu_net.network.presets import hardware_markdown as h; print(h(), end='')"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Short key -> full citation.
REFERENCES: dict[str, str] = {
    "pompili2021": "M. Pompili et al., Realization of a multinode quantum network of remote solid-state qubits, "
                   "Science 372, 259 (2021)",
    "hermans2022": "S. L. N. Hermans et al., Qubit teleportation between non-neighbouring nodes in a quantum "
                   "network, Nature 605, 663 (2022)",
    "abobeih2018": "M. H. Abobeih et al., One-second coherence for a single electron spin coupled to a "
                   "multi-qubit nuclear-spin environment, Nat. Commun. 9, 2552 (2018)",
    "humphreys2018": "P. C. Humphreys et al., Deterministic delivery of remote entanglement on a quantum network, "
                     "Nature 558, 268 (2018)",
    "knaut2024": "C. M. Knaut et al., Entanglement of nanophotonic quantum memory nodes in a telecom network, "
                 "Nature 629, 563 (2024)",
    "main2025": "D. Main et al., Distributed quantum computing across an optical network link, "
                "Nature 638, 383 (2025)",
    "stephenson2020": "L. J. Stephenson et al., High-rate, high-fidelity entanglement of qubits across an "
                      "elementary quantum network, Phys. Rev. Lett. 124, 110501 (2020)",
    "sangouard2011": "N. Sangouard, C. Simon, H. de Riedmatten, N. Gisin, Quantum repeaters based on atomic "
                     "ensembles and linear optics, Rev. Mod. Phys. 83, 33 (2011)",
    "gys2004": "C. Gobby, Z. L. Yuan, A. J. Shields, Quantum key distribution over 122 km of standard telecom "
               "fiber, Appl. Phys. Lett. 84, 3762 (2004) (the 'GYS' parameters)",
    "ma2005": "X. Ma, B. Qi, Y. Zhao, H.-K. Lo, Practical decoy state for quantum key distribution, "
              "Phys. Rev. A 72, 012326 (2005)",
    "itu-g652": "ITU-T G.652 standard single-mode fiber; group index ~1.468 at 1550 nm (SMF-28 class data sheets)",
}


@dataclass(frozen=True)
class Sourced:
    """One preset value and where it comes from."""

    value: Any
    ref: str
    basis: str = "representative"
    note: str = ""

    def __post_init__(self) -> None:
        if self.basis not in ("paper", "representative", "ideal"):
            raise ValueError(f"basis must be paper, representative or ideal, got {self.basis!r}")
        if self.ref and self.ref not in REFERENCES:
            raise ValueError(f"unknown reference {self.ref!r}")


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    node: dict[str, Sourced] = field(default_factory=dict)
    link: dict[str, Sourced] = field(default_factory=dict)
    #: Session parameters a preset suggests for protocols (e.g. QKD's error-correction factor f).
    session: dict[str, Sourced] = field(default_factory=dict)

    @property
    def values_by_kind(self) -> dict[str, dict[str, Any]]:
        out = {}
        if self.node:
            out["node"] = {k: v.value for k, v in self.node.items()}
        if self.link:
            out["link"] = {k: v.value for k, v in self.link.items()}
        return out


def _ideal(v: Any, note: str = "") -> Sourced:
    return Sourced(v, "", "ideal", note)


IDEAL = Preset(
    "ideal",
    "No decoherence, no gate or readout error, no loss: every closed form of the ideal protocols holds.",
    node={"t1_s": _ideal(None, "no relaxation"), "t2_s": _ideal(None, "no dephasing"),
          "gate_1q_error": _ideal(0.0), "gate_2q_error": _ideal(0.0), "measure_error": _ideal(0.0),
          "gate_1q_duration_ns": _ideal(0.0), "gate_2q_duration_ns": _ideal(0.0), "measure_duration_ns": _ideal(0.0),
          "memory_cutoff_s": _ideal(None, "no cut-off: a stored half is kept however long it waits")},
    link={"attenuation_db_per_km": _ideal(0.0, "lossless fiber"), "source_fidelity": _ideal(1.0),
          "source_model": _ideal("werner"), "transmission_depolarize": _ideal(0.0),
          "detector_efficiency": _ideal(1.0), "dark_count_probability": _ideal(0.0),
          "misalignment_error": _ideal(0.0), "heralding": _ideal("source"),
          "spdc_mean_pair_number": _ideal(0.0), "detector_dead_time_ns": _ideal(0.0)},
)

NV_DELFT_2021 = Preset(
    "nv-delft-2021",
    "NV centres in diamond as operated in the Delft three-node network (Pompili 2021, Hermans 2022): "
    "electron spin communication qubit, single-click heralding at a midpoint station, 637 nm photons.",
    node={
        "t1_s": Sourced(3600.0, "abobeih2018", "representative", "electron spin T1 of the order of an hour at 4 K"),
        "t2_s": Sourced(1.0, "abobeih2018", "representative",
                        "electron T2 with dynamical decoupling of the order of a second (1.58 s reported); "
                        "a memory under network activity decays faster"),
        "gate_1q_error": Sourced(0.001, "pompili2021"),
        "gate_2q_error": Sourced(0.02, "pompili2021", note="electron-nuclear two-qubit gates ~98%"),
        "measure_error": Sourced(0.03, "pompili2021", note="single-shot electron readout ~95-99% per outcome"),
        "gate_1q_duration_ns": Sourced(200.0, "pompili2021", note="microwave pulse"),
        "gate_2q_duration_ns": Sourced(500_000.0, "pompili2021", note="electron-nuclear gates take hundreds of us"),
        "measure_duration_ns": Sourced(10_000.0, "pompili2021", note="optical readout ~10 us"),
    },
    link={
        "heralding": Sourced("single-click", "humphreys2018", "paper", "single-photon (single-click) scheme"),
        "bright_state_alpha": Sourced(0.05, "hermans2022", note="alpha of a few per cent"),
        "attenuation_db_per_km": Sourced(8.0, "pompili2021", note="637 nm zero-phonon-line photons in fiber"),
        "detector_efficiency": Sourced(4e-4, "humphreys2018",
                                       note="overall probability to detect an emitted photon at the station"),
        "dark_count_probability": Sourced(1e-6, "humphreys2018", note="per detection window"),
        "source_fidelity": Sourced(0.88, "pompili2021",
                                   note="residual infidelity besides alpha: double excitation, phase noise, "
                                        "photon distinguishability; links of fidelity ~0.8"),
        "attempt_rate_hz": Sourced(2e5, "pompili2021", note="attempts of a few us"),
    },
)

TRAPPED_ION_OXFORD_2025 = Preset(
    "trapped-ion-oxford-2025",
    "Trapped-ion modules linked photonically (Oxford: Main 2025; link as in Stephenson 2020): "
    "two-photon (Barrett-Kok-type) heralding, hyperfine memory qubits.",
    node={
        "t1_s": Sourced(None, "main2025", "representative", "hyperfine clock qubits: no measurable relaxation"),
        "t2_s": Sourced(1.0, "main2025", note="memory coherence of the order of a second"),
        "gate_1q_error": Sourced(1e-4, "main2025"),
        "gate_2q_error": Sourced(0.01, "main2025", note="local two-qubit gates ~99%"),
        "measure_error": Sourced(0.001, "main2025"),
        "gate_1q_duration_ns": Sourced(10_000.0, "main2025"),
        "gate_2q_duration_ns": Sourced(100_000.0, "main2025"),
        "measure_duration_ns": Sourced(500_000.0, "main2025"),
    },
    link={
        "heralding": Sourced("double-click", "stephenson2020", "representative",
                             "two-photon interference at a central station"),
        "attenuation_db_per_km": Sourced(30.0, "stephenson2020", note="422 nm photons in fiber"),
        "detector_efficiency": Sourced(0.02, "stephenson2020",
                                       note="per-photon collection and detection; eta^2/2 x 1 MHz ~ 200 pairs/s"),
        "dark_count_probability": Sourced(1e-6, "stephenson2020"),
        "source_fidelity": Sourced(0.97, "main2025", note="remote Bell pairs of ~97% fidelity"),
        "attempt_rate_hz": Sourced(1e6, "stephenson2020"),
    },
)

SIV_HARVARD_2024 = Preset(
    "siv-harvard-2024",
    "Silicon-vacancy centres in nanophotonic diamond cavities linked over deployed telecom fiber "
    "(Knaut 2024): a photon from one node is heralded at the other (one-sided), 29Si nuclear memory.",
    node={
        "t1_s": Sourced(None, "knaut2024", "representative", "nuclear memory: relaxation negligible"),
        "t2_s": Sourced(0.2, "knaut2024", note="nuclear-spin memory with dynamical decoupling, ~0.1-1 s"),
        "gate_1q_error": Sourced(0.005, "knaut2024"),
        "gate_2q_error": Sourced(0.03, "knaut2024"),
        "measure_error": Sourced(0.03, "knaut2024"),
        "gate_1q_duration_ns": Sourced(100.0, "knaut2024"),
        "gate_2q_duration_ns": Sourced(10_000.0, "knaut2024"),
        "measure_duration_ns": Sourced(50_000.0, "knaut2024"),
    },
    link={
        "heralding": Sourced("source", "knaut2024", "representative",
                             "the photon travels from one node to the other, where it is heralded"),
        "attenuation_db_per_km": Sourced(0.35, "knaut2024", note="O-band telecom photons in deployed fiber"),
        "detector_efficiency": Sourced(0.1, "knaut2024", note="cavity, conversion, coupling and detection"),
        "dark_count_probability": Sourced(1e-6, "knaut2024"),
        "source_fidelity": Sourced(0.9, "knaut2024", note="remote node-node Bell states of ~0.8-0.9"),
        "misalignment_error": Sourced(0.01, "knaut2024", note="time-bin interferometer drift"),
        "attempt_rate_hz": Sourced(1e5, "knaut2024"),
    },
)

ATOMIC_ENSEMBLE = Preset(
    "atomic-ensemble",
    "Cold atomic-ensemble memories in the DLCZ scheme (Sangouard 2011 review): single-excitation "
    "(single-click) heralding, short-lived collective memory, photons converted to telecom.",
    node={
        "t1_s": Sourced(None, "sangouard2011", note="collective-excitation decay modelled as dephasing"),
        "t2_s": Sourced(1e-3, "sangouard2011", note="memory lifetimes of ~0.1-10 ms in cold ensembles"),
        "gate_1q_error": Sourced(0.01, "sangouard2011", note="linear-optics operations on retrieved photons"),
        "gate_2q_error": Sourced(0.05, "sangouard2011", note="probabilistic linear-optics swapping"),
        "measure_error": Sourced(0.02, "sangouard2011"),
        "measure_duration_ns": Sourced(1_000.0, "sangouard2011"),
    },
    link={
        "heralding": Sourced("single-click", "sangouard2011", "paper", "DLCZ: a single Stokes photon heralds"),
        "bright_state_alpha": Sourced(0.01, "sangouard2011", note="excitation probability per attempt ~1%"),
        "attenuation_db_per_km": Sourced(0.2, "sangouard2011", note="telecom-converted photons"),
        "detector_efficiency": Sourced(0.3, "sangouard2011", note="retrieval, conversion and detection"),
        "dark_count_probability": Sourced(1e-6, "sangouard2011"),
        "source_fidelity": Sourced(0.95, "sangouard2011"),
        "attempt_rate_hz": Sourced(1e5, "sangouard2011"),
    },
)

TELECOM_QKD = Preset(
    "telecom-qkd",
    "A prepare-and-measure QKD link over standard telecom fiber with the GYS parameters that Ma et al. "
    "(2005) use for their decoy-state curves.",
    node={"measure_error": Sourced(0.0, "gys2004", "representative", "QKD terminals hold no quantum memory")},
    link={
        "attenuation_db_per_km": Sourced(0.21, "gys2004", "paper"),
        "detector_efficiency": Sourced(0.045, "gys2004", "paper", "Bob's detection efficiency"),
        "dark_count_probability": Sourced(8.5e-7, "gys2004", "paper",
                                          "per detector and pulse: the background yield Y0 = 1.7e-6 of two detectors"),
        "misalignment_error": Sourced(0.033, "gys2004", "paper", "optical misalignment e_detector"),
        "group_index": Sourced(1.468, "itu-g652", "representative"),
    },
    session={"f_ec": Sourced(1.22, "gys2004", "paper", "error-correction inefficiency f(e) used by Ma et al.")},
)

PRESETS: dict[str, Preset] = {p.name: p for p in (IDEAL, NV_DELFT_2021, TRAPPED_ION_OXFORD_2025, SIV_HARVARD_2024,
                                                 ATOMIC_ENSEMBLE, TELECOM_QKD)}


def preset_values(kind: str, name: Any) -> dict[str, Any] | None:
    """The keys preset `name` sets on a `kind` ("node" or "link"); None if there is no such preset."""
    p = PRESETS.get(name) if isinstance(name, str) else None
    if p is None:
        return None
    return p.values_by_kind.get(kind)


def _fmt(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def hardware_markdown() -> str:
    """The table of every preset value with its source (the body of docs/hardware.md's tables)."""
    lines = []
    for p in PRESETS.values():
        lines += [f"### `{p.name}`", "", p.description, "", "| kind | key | value | basis | source | note |",
                  "|---|---|---|---|---|---|"]
        for kind, values in (("node", p.node), ("link", p.link), ("session", p.session)):
            for key, s in values.items():
                lines.append(f"| {kind} | `{key}` | {_fmt(s.value)} | {s.basis} | {s.ref or '-'} | {s.note} |")
        lines.append("")
    lines += ["### References", ""]
    lines += [f"* **{k}**: {v}" for k, v in REFERENCES.items()]
    return "\n".join(lines) + "\n"


__all__ = ["PRESETS", "REFERENCES", "Preset", "Sourced", "hardware_markdown", "preset_values"]
