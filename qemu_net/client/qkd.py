"""QKD from the client SDK: run a session between two node processes, and fetch the keys it produced.

    from qemu_net.client import Network
    from qemu_net.client import qkd

    with Network.connect("topology.yaml") as net:
        s = qkd.run_qkd(net, "alice", "bob", protocol="bb84", n_pulses=10_000_000)
        print(s.final_bits, s.qber, s.key_rate_per_pulse)           # never the key itself
        keys = qkd.get_keys(net["alice"], "bob", number=4, size_bits=256)   # master application
        same = qkd.get_keys_with_ids(net["bob"], "alice", [k.key_id for k in keys])  # slave application

`run_qkd` runs Alice's role at `alice` and Bob's at `bob` (each in its own node process, via
`Network.run_roles`) and returns a `QkdSummary`: counts and estimates from both ends, no key
material. Each node adds the final key to its key store; applications take it from there with the
key-delivery functions (the node's KeyDeliveryService, in the spirit of ETSI GS QKD 014).

Errors: an aborted session raises ProtocolAborted (status ABORTED) whose message says why (e.g. the
QBER), unless ``report_abort=True``, which returns the summary with ``aborted`` set; bad parameters
raise InvalidOperation; two nodes without a fiber raise NotConnected; asking for more key than is
stored raises KeysExhausted; unknown key ids raise KeyNotFound.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from qemu_net._serde import sdk as w
from qemu_net._serde.sdk import roles as pr
from qemu_net.client._steps import RoleRun, Steps
from qemu_net.errors import InvalidOperation
from qemu_net.qkd.delivered import DeliveredKey, KeyBytes

if TYPE_CHECKING:
    from qemu_net.client.sync import Network, Node

#: run_qkd keyword -> the role message(s) it goes to.
_BB84_ALICE = frozenset({"n_pulses", "pulse_rate_hz", "block_pulses", "mu", "nu", "p_signal", "p_decoy", "p_vacuum",
                         "p_z", "qber_threshold", "eps_sec", "eps_cor", "eve_fraction", "reconciliation",
                         "ldpc_f_target", "f_ec"})
_E91_ALICE = frozenset({"n_pairs", "pair_rate_hz", "block_pairs", "visibility", "p_z", "qber_threshold",
                        "chsh_threshold", "eps_sec", "eps_cor", "eve_fraction", "reconciliation", "ldpc_f_target",
                        "f_ec"})
PROTOCOLS = ("bb84", "e91")


@dataclass(frozen=True)
class QkdSummary:
    """The outcome of one QKD session between two node processes (Alice's view unless said otherwise).

    No key material: the keys are in the two nodes' key stores."""

    protocol: str
    alice: str
    bob: str
    session_id: str
    n_pulses: int
    raw_bits: int
    sifted_bits: int
    sample_bits: int
    reconciled_bits: int
    final_bits: int
    qber: float
    leaked_ec_bits: int
    secret_fraction: float
    key_rate_per_pulse: float
    #: Final bits per virtual second of the session (pulse trains, latency, post-processing).
    key_rate_per_virtual_s: float
    virtual_duration_ns: float
    wall_time_s: float
    cascade_rounds: int
    corrected_errors: int
    ec_efficiency: float
    asymptotic_rate_per_pulse: float | None = None
    y1_lower: float | None = None
    e1_upper: float | None = None
    gains: tuple[float, ...] | None = None
    chsh: float | None = None
    chsh_stderr: float | None = None
    aborted: str | None = None
    #: Bits each node added to its key store (equal at both ends when the session succeeded).
    stored_bits_alice: int = 0
    stored_bits_bob: int = 0
    #: The finite-key analysis, its security parameters (the key is eps_sec + eps_cor secure), and
    #: the asymptotic figure for the same counts.
    key_analysis: str = ""
    eps_sec: float = 0.0
    eps_cor: float = 0.0
    asymptotic_bits: float | None = None
    s1_lower: float | None = None
    reconciliation: str = "cascade"
    frame_error_rate: float | None = None

    def __post_init__(self) -> None:
        if not (self.final_bits <= self.reconciled_bits <= self.sifted_bits <= self.raw_bits <= self.n_pulses):
            raise InvalidOperation("QkdSummary: need final <= reconciled <= sifted <= raw <= pulses")
        if self.aborted is None and self.stored_bits_alice != self.stored_bits_bob:
            raise InvalidOperation("QkdSummary: the two ends stored keys of different lengths")

    @property
    def succeeded(self) -> bool:
        return self.aborted is None and self.final_bits > 0

    @property
    def secret_bits_per_wall_s(self) -> float:
        return self.final_bits / self.wall_time_s if self.wall_time_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["gains"] = list(self.gains) if self.gains is not None else None
        d["secret_bits_per_wall_s"] = self.secret_bits_per_wall_s
        return {key: (None if isinstance(v, float) and not math.isfinite(v) else v) for key, v in d.items()}


def _opt(msg: Any, name: str) -> float | None:
    return getattr(msg, name) if msg.HasField(name) else None


def summary_from_proto(alice: str, bob: str, session: str, wall_s: float, a: pr.QkdSessionResult,
                       b: pr.QkdSessionResult) -> QkdSummary:
    return QkdSummary(
        protocol=a.protocol, alice=alice, bob=bob, session_id=session, n_pulses=a.n_pulses, raw_bits=a.raw_bits,
        sifted_bits=a.sifted_bits, sample_bits=a.sample_bits, reconciled_bits=a.reconciled_bits,
        final_bits=a.final_bits, qber=a.qber, leaked_ec_bits=a.leaked_ec_bits, secret_fraction=a.secret_fraction,
        key_rate_per_pulse=a.key_rate_per_pulse, key_rate_per_virtual_s=a.key_rate_per_s,
        virtual_duration_ns=a.duration_ns, wall_time_s=wall_s, cascade_rounds=a.cascade_rounds,
        corrected_errors=a.corrected_errors, ec_efficiency=a.ec_efficiency,
        asymptotic_rate_per_pulse=_opt(a, "asymptotic_rate_per_pulse"), y1_lower=_opt(a, "y1_lower"),
        e1_upper=_opt(a, "e1_upper"), gains=tuple(a.gains) or None, chsh=_opt(a, "chsh"),
        chsh_stderr=_opt(a, "chsh_stderr"), aborted=a.aborted or b.aborted or None,
        stored_bits_alice=a.stored_bits, stored_bits_bob=b.stored_bits, key_analysis=a.key_analysis,
        eps_sec=a.eps_sec, eps_cor=a.eps_cor, asymptotic_bits=_opt(a, "asymptotic_bits"), s1_lower=_opt(a, "s1_lower"),
        reconciliation=a.reconciliation or "cascade", frame_error_rate=_opt(a, "frame_error_rate"),
    )


def qkd_roles(protocol: str, alice: str, bob: str, *, report_abort: bool = False, cascade_passes: int = 0,
              p_key: float | None = None, decoy: bool = True, **params: Any) -> dict[str, dict[str, Any]]:
    """The RunProtocol role messages of one session (for `Network.run_roles`)."""
    if protocol not in PROTOCOLS:
        raise InvalidOperation(f"unknown QKD protocol {protocol!r}; use one of {', '.join(PROTOCOLS)}")
    allowed = _BB84_ALICE if protocol == "bb84" else _E91_ALICE
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise InvalidOperation(f"{protocol} takes no parameter(s) {', '.join(unknown)}; "
                               f"known: {', '.join(sorted(allowed | {'cascade_passes', 'report_abort'}))}")
    if alice == bob:
        raise InvalidOperation(f"a QKD session needs two different nodes, got {alice!r} twice")
    if protocol == "bb84":
        a = pr.Bb84Alice(peer=bob, single_photon=not decoy, cascade_passes=cascade_passes,
                         report_abort=report_abort, **params)
        b = pr.Bb84Bob(peer=alice, cascade_passes=cascade_passes, report_abort=report_abort)
        return {alice: {"bb84_alice": a}, bob: {"bb84_bob": b}}
    if not decoy:
        raise InvalidOperation("decoy applies to BB84 only")
    ea = pr.E91Alice(peer=bob, cascade_passes=cascade_passes, report_abort=report_abort, **params)
    eb = pr.E91Bob(peer=alice, cascade_passes=cascade_passes, report_abort=report_abort, p_key=p_key)
    return {alice: {"e91_alice": ea}, bob: {"e91_bob": eb}}


def run_qkd(net: Network, alice: str, bob: str, protocol: str = "bb84", *, timeout_s: float = 60.0,
            session: str | None = None, **params: Any) -> QkdSummary:
    """Run a QKD session (Alice's role at `alice`, Bob's at `bob`); both nodes store the final key.

    `params` are the fields of `qemu_net.qkd.BB84Params` (``n_pulses``, ``mu``, ``nu``, ``p_signal``,
    ``p_decoy``, ``p_vacuum``, ``p_z``, ``decoy``, ``eps_sec``, ``eps_cor``, ``eve_fraction``, ...) or
    `E91Params` (``n_pairs``, ``visibility``, ``p_key``, ``chsh_threshold``, ...), plus
    ``report_abort`` (return an aborted summary instead of raising ProtocolAborted). Never returns
    or prints the key."""
    return net._drive(run_qkd_steps(alice, bob, protocol, timeout_s=timeout_s, session=session, **params))


def run_qkd_steps(alice: str, bob: str, protocol: str = "bb84", *, timeout_s: float = 60.0,
                  session: str | None = None, **params: Any) -> Steps[QkdSummary]:
    """`run_qkd` without I/O: one role run (see `qemu_net.client.protocols.Steps`)."""
    roles = qkd_roles(protocol, alice, bob, **params)
    field_a, field_b = w.role_field(roles[alice]), w.role_field(roles[bob])
    session = session or w.new_session()
    t0 = time.perf_counter()
    res = yield RoleRun(roles, timeout_s, session)
    wall = time.perf_counter() - t0
    return summary_from_proto(alice, bob, session, wall, getattr(res[alice], field_a), getattr(res[bob], field_b))


# ------------------------------------------------------------------------------------- key delivery
@dataclass(frozen=True)
class KeyStatus:
    """What a node holds for one peer, and the limits of a request (ETSI GS QKD 014 "Get status")."""

    node: str
    peer: str
    stored_bits: int
    stored_sessions: int
    stored_key_count: int
    default_key_size_bits: int
    min_key_size_bits: int
    max_key_size_bits: int
    max_keys_per_request: int
    pending_keys: int


def status_from_proto(m: Any) -> KeyStatus:
    """A node's key status message as a `KeyStatus`."""
    return KeyStatus(m.node, m.peer, m.stored_bits, m.stored_sessions, m.stored_key_count, m.default_key_size_bits,
                     m.min_key_size_bits, m.max_key_size_bits, m.max_keys_per_request, m.pending_keys)


def keys_from_proto(m: Any) -> list[DeliveredKey]:
    """The keys of a key container message."""
    return [DeliveredKey(key_id, size_bits, KeyBytes(key)) for key_id, size_bits, key in w.keys_from_proto(m)]


def key_status(node: Node, peer: str, *, timeout_s: float | None = None) -> KeyStatus:
    """What `node` holds for `peer` (same as ``node.key_status(peer)``)."""
    return node.key_status(peer, timeout_s=timeout_s)


def get_keys(node: Node, peer: str, number: int = 1, size_bits: int = 256, *,
             timeout_s: float | None = None) -> list[DeliveredKey]:
    """Master side: `number` fresh keys of `size_bits` shared with `peer` (their ids go to the peer's app)."""
    return node.get_keys(peer, number, size_bits, timeout_s=timeout_s)


def get_keys_with_ids(node: Node, peer: str, key_ids: Sequence[str], *,
                      timeout_s: float | None = None) -> list[DeliveredKey]:
    """Slave side: the keys the peer's application was given, by id (each delivered once)."""
    return node.get_keys_with_ids(peer, key_ids, timeout_s=timeout_s)


# --------------------------------------------------------------------------- ETSI GS QKD 014 client
class Etsi014Error(InvalidOperation):
    """A KME answered with an ETSI 014 error; ``fields['status']`` is the HTTP status."""


class Etsi014Client(contextlib.AbstractContextManager["Etsi014Client"]):
    """A minimal ETSI GS QKD 014 client over mutual TLS (standard library): one SAE talking to its KME.

        with Etsi014Client("https://127.0.0.1:8443", cert="sae-a.pem", key="sae-a.key", ca="ca.pem") as c:
            keys = c.enc_keys("sae-b", number=2, size=256)     # [{"key_ID", "key", "key_extension"}, ...]
            c.status("sae-b")                                  # the ETSI status object

    Keys come back base64-encoded as the standard has them; nothing here logs them."""

    def __init__(self, url: str, *, cert: str, key: str, ca: str, timeout_s: float = 30.0) -> None:
        import http.client
        import ssl
        from urllib.parse import urlsplit

        u = urlsplit(url)
        if u.scheme != "https" or not u.hostname:
            raise InvalidOperation(f"KME URL {url!r} must be https://HOST:PORT")
        ctx = ssl.create_default_context(cafile=ca)
        ctx.load_cert_chain(cert, key)
        self._conn = http.client.HTTPSConnection(u.hostname, u.port or 443, context=ctx, timeout=timeout_s)

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()

    def _call(self, method: str, path: tuple[str, str], body: dict[str, Any] | None = None) -> dict[str, Any]:
        import json
        from urllib.parse import quote

        data = json.dumps(body).encode() if body is not None else None
        self._conn.request(method, "/api/v1/keys/" + quote(path[0], safe="") + "/" + path[1], body=data,
                           headers={"Content-Type": "application/json"} if data else {})
        r = self._conn.getresponse()
        payload: dict[str, Any] = json.loads(r.read() or b"{}")
        if r.status != 200:
            raise Etsi014Error(f"KME answered {r.status}: {payload.get('message', payload)}", status=r.status,
                               details=payload.get("details"))
        return payload

    def status(self, slave_sae: str) -> dict[str, Any]:
        return self._call("GET", (slave_sae, "status"))

    def enc_keys(self, slave_sae: str, number: int = 1, size: int = 256,
                 additional_slaves: list[str] | None = None) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"number": number, "size": size}
        if additional_slaves:
            body["additional_slave_SAE_IDs"] = list(additional_slaves)
        keys: list[dict[str, Any]] = self._call("POST", (slave_sae, "enc_keys"), body)["keys"]
        return keys

    def dec_keys(self, master_sae: str, key_ids: list[str]) -> list[dict[str, Any]]:
        keys: list[dict[str, Any]] = self._call("POST", (master_sae, "dec_keys"),
                                                {"key_IDs": [{"key_ID": k} for k in key_ids]})["keys"]
        return keys


__all__ = ["PROTOCOLS", "Etsi014Client", "Etsi014Error", "KeyStatus", "QkdSummary", "get_keys", "get_keys_with_ids",
           "key_status", "qkd_roles", "run_qkd", "run_qkd_steps"]
