"""The topology file: one description for `qnet up`, Docker Compose and Kubernetes.

A topology names the nodes (with their memory and gate models), the fiber links between them
(each carries a quantum channel and a classical channel) and, optionally, extra classical-only links.
Every physical quantity has its unit in its key name. Everything has a default, so this is a
complete topology::

    nodes: [alice, bob]
    links: [[alice, bob]]

Validation is done with pydantic; `load_topology` turns any validation failure into a
`TopologyError` whose message names the key path (``links[0].length_km``) and the problem.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, ClassVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from qemu_net.errors import TopologyError, UnknownNode
from qemu_net.vocab import Heralding, SourceModel

#: Speed of light in vacuum, km per second (exact, SI).
SPEED_OF_LIGHT_KM_PER_S = 299_792.458
#: Group index of standard single-mode fiber (SMF-28 class) near 1550 nm; the default of every link.
DEFAULT_GROUP_INDEX = 1.468


def fiber_ns_per_km(group_index: float = DEFAULT_GROUP_INDEX) -> float:
    """Time light needs per kilometre of fiber: n_g / c, in ns (4896.7 ns/km at n_g = 1.468)."""
    return group_index * 1e9 / SPEED_OF_LIGHT_KM_PER_S


#: Light in standard fiber (group index 1.468): about 4.9 microseconds per kilometre.
FIBER_NS_PER_KM = fiber_ns_per_km()

Probability = float


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Preset(_Strict):
    """A spec a named hardware ``preset`` can fill: every key of its kind (`preset_kind`) the preset
    defines that the document does not set itself."""

    preset_kind: ClassVar[str]
    preset: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        """Before validation: fill the keys a ``preset`` sets that the document does not set itself."""
        if not isinstance(data, dict) or data.get("preset") is None:
            return data
        from qemu_net.network.presets import preset_values

        values = preset_values(cls.preset_kind, data["preset"])
        if values is None:  # unknown name: the field validator reports it at <path>.preset
            return data
        return {**values, **data}

    @field_validator("preset")
    @classmethod
    def _preset_known(cls, v: str | None) -> str | None:
        if v is None:
            return v
        from qemu_net.network.presets import PRESETS

        kind = cls.preset_kind
        if v not in PRESETS or kind not in PRESETS[v].values_by_kind:
            names = sorted(n for n, p in PRESETS.items() if kind in p.values_by_kind)
            raise ValueError(f"unknown {kind} preset {v!r}; known: {', '.join(names)}")
        return v


class NodeSpec(_Preset):
    """One network node: a process with a quantum memory.

    ``preset`` (e.g. ``nv-delft-2021``, ``ideal``) fills every node key it defines (see docs/hardware.md)
    that the node does not set itself, so each value stays overridable.
    """

    preset_kind = "node"
    name: str = Field(min_length=1, max_length=63, pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
    #: ``host:port`` where the node serves gRPC. Empty: chosen by the launcher (`qnet up` picks free
    #: loopback ports; Kubernetes uses the StatefulSet's DNS names).
    address: str = ""
    #: ``host:port`` of the node-to-node service when it is served on its own port (so a Kubernetes
    #: NetworkPolicy can admit only nodes to it). Empty: peers use `address`.
    peer_address: str = ""
    memory_qubits: int = Field(default=256, ge=1, le=100_000)
    #: Energy relaxation and dephasing times of the memory; ``null`` (the default) means no decay.
    t1_s: float | None = Field(default=None, gt=0)
    t2_s: float | None = Field(default=None, gt=0)
    gate_1q_error: Probability = Field(default=0.0, ge=0, le=1)
    gate_2q_error: Probability = Field(default=0.0, ge=0, le=1)
    gate_1q_duration_ns: float = Field(default=0.0, ge=0)
    gate_2q_duration_ns: float = Field(default=0.0, ge=0)
    measure_error: Probability = Field(default=0.0, ge=0, le=1)
    measure_duration_ns: float = Field(default=0.0, ge=0)
    #: Memory cut-off: an EPR half waiting in this node's delivered pool longer than this (on this node's
    #: own timeline, from its herald) is discarded when a role takes it; ``null`` (the default): no cut-off.
    memory_cutoff_s: float | None = Field(default=None, gt=0, le=1e6)

    @model_validator(mode="after")
    def _t2_bounded_by_t1(self) -> NodeSpec:
        if self.t1_s is not None and self.t2_s is not None and self.t2_s > 2 * self.t1_s + 1e-15:
            raise ValueError(
                f"t2_s={self.t2_s} exceeds 2*t1_s={2 * self.t1_s}: no physical memory has T2 > 2*T1"
            )
        return self

    @property
    def noiseless(self) -> bool:
        return (
            self.t1_s is None
            and self.t2_s is None
            and self.gate_1q_error == 0
            and self.gate_2q_error == 0
            and self.measure_error == 0
        )


HERALDING = tuple(h.value for h in Heralding)


class _Fiber(_Strict):
    """A fiber between two distinct nodes."""

    nodes: tuple[str, str]
    length_km: float = Field(default=0.0, ge=0)
    #: Group index of the fiber: light needs n_g / c per km (4.897 us/km at the default 1.468).
    group_index: float = Field(default=DEFAULT_GROUP_INDEX, ge=1, le=5)

    @field_validator("nodes")
    @classmethod
    def _distinct(cls, v: tuple[str, str]) -> tuple[str, str]:
        if v[0] == v[1]:
            raise ValueError(f"a link from {v[0]!r} to itself is not allowed")
        return v

    @property
    def ns_per_km(self) -> float:
        """Light's delay per km of this fiber: group_index / c."""
        return fiber_ns_per_km(self.group_index)


class LinkSpec(_Fiber, _Preset):
    """A fiber between two nodes: a quantum channel and a classical channel side by side.

    ``preset`` (e.g. ``telecom-qkd``, ``ideal``) fills every link key it defines that the link does not
    set itself (see docs/hardware.md).
    """

    preset_kind = "link"
    #: Where EPR generation is heralded: ``source`` (one-sided: the source end emits, the far end's
    #: detector heralds), ``single-click`` or ``double-click`` (Barrett-Kok) at a station half-way.
    heralding: Heralding = Heralding.SOURCE
    #: Bright-state population alpha of the single-click scheme: fidelity 1 - alpha, success ~ 2 alpha eta.
    bright_state_alpha: Probability = Field(default=0.1, gt=0, le=0.5)
    #: Mean pair number per attempt of an SPDC source (thermal statistics); 0: a single-emitter source
    #: (no multi-pair emission).
    spdc_mean_pair_number: float = Field(default=0.0, ge=0, le=10)
    #: Detector dead time after each click (non-paralysable): count rates saturate at 1 / dead time.
    detector_dead_time_ns: float = Field(default=0.0, ge=0)
    attenuation_db_per_km: float = Field(default=0.2, ge=0)
    #: How the EPR source's imperfection is modelled: ``werner`` (depolarised pair of fidelity
    #: ``source_fidelity``) or ``dephased`` (Bell-diagonal with only a phase flip).
    source_model: SourceModel = SourceModel.WERNER
    source_fidelity: Probability = Field(default=1.0, ge=0.25, le=1)
    #: Depolarising probability (Cirq's convention) a photon suffers crossing the fiber.
    transmission_depolarize: Probability = Field(default=0.0, ge=0, le=1)
    detector_efficiency: Probability = Field(default=1.0, gt=0, le=1)
    dark_count_probability: Probability = Field(default=0.0, ge=0, le=1)
    #: Optical misalignment: probability that a detected photon's polarisation is flipped (QKD). The
    #: default, 1.5%, is typical of deployed fiber systems; 0 is a perfectly aligned link.
    misalignment_error: Probability = Field(default=0.015, ge=0, le=0.5)
    attempt_rate_hz: float = Field(default=1e6, gt=0)
    max_attempts: int = Field(default=1_000_000, ge=1)
    #: The classical channel's one-way latency; ``null`` derives it from the length (group index).
    classical_latency_ns: float | None = Field(default=None, ge=0)
    #: Application identities (certificate names) allowed to take this link's QKD keys at either end
    #: (key delivery); ``null``: any application identity (on a plaintext network: any caller).
    key_consumers: list[Annotated[str, Field(min_length=1, max_length=253,
                                             pattern=r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")]] | None = None

    @property
    def transmissivity(self) -> float:
        """Probability that a photon survives the fiber and is detected: 10^(-aL/10) * eta_det."""
        return 10 ** (-self.attenuation_db_per_km * self.length_km / 10) * self.detector_efficiency

    @property
    def latency_ns(self) -> float:
        if self.classical_latency_ns is not None:
            return self.classical_latency_ns
        return self.length_km * self.ns_per_km


class ClassicalLinkSpec(_Fiber):
    """A classical-only connection (no quantum channel)."""

    latency_ns: float | None = Field(default=None, ge=0)

    @property
    def effective_latency_ns(self) -> float:
        return self.latency_ns if self.latency_ns is not None else self.length_km * self.ns_per_km


class Topology(_Strict):
    """A whole network. Build with `load_topology` / `parse_topology` to get readable errors."""

    name: str = Field(default="qnet", pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", max_length=40)
    nodes: tuple[NodeSpec, ...] = Field(min_length=1)
    links: tuple[LinkSpec, ...] = ()
    classical_links: tuple[ClassicalLinkSpec, ...] = ()
    #: Seed for every random choice in the network; each node derives its own stream from it.
    seed: int = Field(default=0, ge=0)
    #: Overrides of the nodes' hard limits (field names of `qemu_net.network.limits.Limits`), e.g.
    #: ``{max_epr_batch: 200000}``; None: the defaults.
    limits: dict[str, int | float] | None = None

    @field_validator("limits")
    @classmethod
    def _valid_limits(cls, v: Any) -> Any:
        if v:
            from qemu_net.network.limits import Limits

            try:
                Limits.resolve(v, env={})
            except TopologyError as exc:
                path, _, message = exc.problems[0].partition(": ")
                raise _KeyedError(path, message) from None
        return v

    @model_validator(mode="before")
    @classmethod
    def _network_preset(cls, data: Any) -> Any:
        """A top-level ``preset`` applies to every node and link that names none of its own."""
        if not isinstance(data, dict) or data.get("preset") is None:
            return data
        data = dict(data)
        name = data.pop("preset")

        def fill(items: Any, wrap: str) -> Any:
            if not isinstance(items, (list, tuple)):
                return items
            out = []
            for item in items:
                x = {wrap: item} if isinstance(item, (str, list, tuple)) else item
                out.append({"preset": name, **x} if isinstance(x, dict) else x)
            return out

        if "nodes" in data:
            data["nodes"] = fill(data["nodes"], "name")
        if "links" in data:
            data["links"] = fill(data["links"], "nodes")
        return data

    @field_validator("nodes", mode="before")
    @classmethod
    def _names_to_specs(cls, v: Any) -> Any:
        if isinstance(v, (list, tuple)):
            return [{"name": x} if isinstance(x, str) else x for x in v]
        return v

    @field_validator("links", "classical_links", mode="before")
    @classmethod
    def _pairs_to_specs(cls, v: Any) -> Any:
        if isinstance(v, (list, tuple)):
            return [{"nodes": x} if isinstance(x, (list, tuple)) else x for x in v]
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Topology:
        seen: set[str] = set()
        for i, n in enumerate(self.nodes):
            if n.name in seen:
                raise _KeyedError(f"nodes[{i}].name", f"duplicate node name {n.name!r}")
            seen.add(n.name)
        pairs: set[frozenset[str]] = set()
        groups: tuple[tuple[str, tuple[LinkSpec | ClassicalLinkSpec, ...]], ...] = (
            ("links", self.links), ("classical_links", self.classical_links))
        for key, links in groups:
            for i, link in enumerate(links):
                for end in link.nodes:
                    if end not in seen:
                        raise _KeyedError(f"{key}[{i}].nodes", f"unknown node {end!r}")
                pair = frozenset(link.nodes)
                if pair in pairs:
                    raise _KeyedError(
                        f"{key}[{i}].nodes", f"a second link between {link.nodes[0]!r} and {link.nodes[1]!r}"
                    )
                pairs.add(pair)
        return self

    # ----------------------------------------------------------------- queries
    def node(self, name: str) -> NodeSpec:
        """The node named `name`; KeyError if there is none (use `require_node` for a request's input)."""
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def require_node(self, name: str, *, what: str = "") -> NodeSpec:
        """The node named `name`, or `UnknownNode` (INVALID_ARGUMENT) naming the known nodes. `what` says
        where the name came from (e.g. ``"teleport.receiver"``) and prefixes the message."""
        for n in self.nodes:
            if n.name == name:
                return n
        known = self.node_names
        prefix = f"{what}: " if what else ""
        raise UnknownNode(f"{prefix}unknown node {name!r}; the topology has {', '.join(known)}", node=name,
                          known=known)

    @property
    def node_names(self) -> tuple[str, ...]:
        return tuple(n.name for n in self.nodes)

    def link(self, a: str, b: str) -> LinkSpec | None:
        """The quantum (fiber) link between a and b, or None."""
        for link in self.links:
            if set(link.nodes) == {a, b}:
                return link
        return None

    def classical_latency_ns(self, a: str, b: str) -> float | None:
        """One-way latency of the classical channel between a and b; None if they are not connected."""
        q = self.link(a, b)
        if q is not None:
            return q.latency_ns
        for c in self.classical_links:
            if set(c.nodes) == {a, b}:
                return c.effective_latency_ns
        return None

    def neighbours(self, name: str) -> list[str]:
        """The nodes sharing a quantum or classical link with `name`."""
        every: tuple[LinkSpec | ClassicalLinkSpec, ...] = (*self.links, *self.classical_links)
        return [link.nodes[1] if link.nodes[0] == name else link.nodes[0] for link in every if name in link.nodes]

    def with_addresses(self, addresses: dict[str, str]) -> Topology:
        nodes = tuple(n.model_copy(update={"address": addresses.get(n.name, n.address)}) for n in self.nodes)
        return self.model_copy(update={"nodes": nodes})

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


class _KeyedError(ValueError):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def parse_topology(data: Any, *, source: str = "topology") -> Topology:
    """Validate a parsed YAML/JSON document; raise `TopologyError` naming the key path on failure."""
    if not isinstance(data, dict):
        raise TopologyError(f"{source}: expected a mapping with a 'nodes' key, got {type(data).__name__}")
    try:
        return Topology.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            ctx_err = (err.get("ctx") or {}).get("error")
            if isinstance(ctx_err, _KeyedError):
                problems.append(f"{ctx_err.path}: {ctx_err.message}")
                continue
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p in ("function-after",)))
            msg = err["msg"]
            if msg.startswith("Value error, "):
                msg = msg[len("Value error, ") :]
            problems.append(f"{_format_loc(loc)}: {msg}")
        raise TopologyError(f"{source}: " + "; ".join(problems), problems=tuple(problems)) from None


def with_overrides(
    topology: Topology,
    *,
    nodes: dict[str, Any] | None = None,
    links: dict[str, Any] | None = None,
    seed: int | None = None,
    source: str = "overrides",
) -> Topology:
    """A copy of `topology` with the given keys set on every node and every quantum link, re-validated.

    For command-line overrides such as ``--length-km 50`` (``links={"length_km": 50}``),
    ``--link-fidelity 0.95`` (``links={"source_fidelity": 0.95}``) or ``--t2-s 1e-3``
    (``nodes={"t2_s": 1e-3}``). Keys are topology keys with their units; an unknown key or a bad value
    raises `TopologyError` naming the key path (``links[0].length_km: ...``), as a file would.
    """
    data = topology.model_dump(mode="json")
    for key, updates in (("nodes", nodes), ("links", links)):
        if updates:
            data[key] = [{**item, **updates} for item in data[key]]
    if seed is not None:
        data["seed"] = seed
    return parse_topology(data, source=source)


def load_topology(path: str | os.PathLike[str]) -> Topology:
    """Read and validate a topology YAML file."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise TopologyError(f"cannot read topology file {str(p)!r}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TopologyError(f"{p}: not valid YAML: {exc}") from None
    return parse_topology(data, source=str(p))


def topology_from_env(var: str = "QNET_TOPOLOGY") -> Topology:
    """The topology given in an environment variable, as YAML text or as a file path."""
    value = os.environ.get(var)
    if not value:
        raise TopologyError(f"environment variable {var} is not set")
    if "\n" in value or value.lstrip().startswith("{"):
        return parse_topology(yaml.safe_load(value), source=f"${var}")
    return load_topology(value)


#: Hardware preset of every node and link of the embedded default network (see docs/hardware.md).
DEFAULT_PRESET = "siv-harvard-2024"


def default_topology() -> Topology:
    """The embedded default: alice -- repeater -- bob over 10 km telecom fibers, with realistic hardware
    (every node and link uses the `DEFAULT_PRESET` preset; ``preset: ideal`` gives the noiseless network)."""
    return parse_topology(
        {
            "name": "demo",
            "preset": DEFAULT_PRESET,
            "nodes": ["alice", "repeater", "bob"],
            "links": [
                {"nodes": ["alice", "repeater"], "length_km": 10},
                {"nodes": ["repeater", "bob"], "length_km": 10},
            ],
            "classical_links": [{"nodes": ["alice", "bob"], "length_km": 20}],
        },
        source="default topology",
    )


def chain_topology(n: int, *, length_km: float = 1.0, name: str = "chain", **link_kw: Any) -> Topology:
    """A linear chain n0 -- n1 -- ... -- n(n-1), with an end-to-end classical link."""
    names = [f"n{i}" for i in range(n)]
    links = [{"nodes": [names[i], names[i + 1]], "length_km": length_km, **link_kw} for i in range(n - 1)]
    extra = []
    if n > 2:
        extra = [{"nodes": [names[0], names[-1]], "length_km": length_km * (n - 1)}]
    return parse_topology({"name": name, "nodes": names, "links": links, "classical_links": extra})


__all__ = [
    "DEFAULT_GROUP_INDEX",
    "DEFAULT_PRESET",
    "FIBER_NS_PER_KM",
    "HERALDING",
    "SPEED_OF_LIGHT_KM_PER_S",
    "ClassicalLinkSpec",
    "LinkSpec",
    "NodeSpec",
    "Topology",
    "chain_topology",
    "default_topology",
    "fiber_ns_per_km",
    "load_topology",
    "parse_topology",
    "topology_from_env",
    "with_overrides",
]
