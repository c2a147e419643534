"""The hard limits of one node, as one pydantic model (`Limits`): the bounds every request is checked
against (see `qemu_net.node.limits` for the checks and what each limit protects). It lives with the
topology, which validates its ``limits`` overrides against it, and imports neither gRPC nor the node.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from qemu_net.errors import InvalidOperation, LimitExceeded, TopologyError

MiB = 1024 * 1024

class Limits(BaseModel):
    """Every hard limit of a node (units in the names). Build with `Limits.resolve` to apply overrides."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Largest gRPC message a server or channel sends or accepts.
    max_message_bytes: int = Field(default=80 * MiB, ge=64 * 1024, le=1024 * MiB)
    #: Largest classical message payload.
    max_classical_bytes: int = Field(default=64 * MiB, ge=1024, le=1024 * MiB)
    #: Undelivered classical payload bytes a node queues for all its channels before senders wait.
    max_queued_classical_bytes: int = Field(default=192 * MiB, ge=1024, le=4096 * MiB)
    #: Undelivered messages one channel (sender, channel) queues before senders wait.
    max_queued_messages: int = Field(default=100_000, ge=1, le=10_000_000)
    #: Pairs per CreateMeasureEpr (about 64 bytes each while the batch is built).
    max_epr_batch: int = Field(default=1_000_000, ge=1, le=10_000_000)
    #: Pairs per CreateEpr (each pair takes two memory qubits anyway).
    max_epr_pairs: int = Field(default=10_000, ge=1, le=100_000)
    #: Pulses (BB84) or pairs (E91) per QKD session. Alice keeps 3 bytes per pulse (bit, basis, intensity)
    #: for the whole session: 150 MB at the default.
    max_qkd_pulses: int = Field(default=100_000_000, ge=1, le=10**10)
    #: Bytes of one group state arriving from a peer (complex128: a state vector of n qubits is 16 * 2^n
    #: bytes, a density matrix 16 * 4^n; the default admits 20 and 10 qubits).
    max_group_state_bytes: int = Field(default=16 * MiB, ge=256, le=1024 * MiB)
    #: Concurrent waiting calls per caller (identity and address).
    max_waits_per_client: int = Field(default=16, ge=1, le=10_000)
    #: Concurrent waiting calls over all callers (kept below the public worker pool).
    max_waits: int = Field(default=36, ge=1, le=10_000)
    #: Public server worker threads (waits take at most `max_waits` of them).
    public_workers: int = Field(default=48, ge=4, le=1024)
    #: Largest `timeout_s` a request may give.
    max_timeout_s: float = Field(default=3600.0, gt=0, le=86_400.0)

    @model_validator(mode="after")
    def _waits_leave_workers(self) -> Limits:
        if self.max_waits > self.public_workers - 4:
            raise ValueError(f"max_waits ({self.max_waits}) must leave at least 4 of the {self.public_workers} "
                             "public_workers for short calls (health, GetInfo)")
        if self.max_classical_bytes > self.max_message_bytes - 64 * 1024:
            raise ValueError("max_classical_bytes must be at least 64 KiB below max_message_bytes")
        return self

    @classmethod
    def resolve(cls, overrides: Mapping[str, Any] | None = None,
                env: Mapping[str, str] | None = None) -> Limits:
        """The defaults, then `overrides` (the topology's ``limits``), then ``QNET_LIMIT_*`` variables of
        `env` (``os.environ`` when None). Errors name the key path (``limits.<field>`` or the variable)."""
        env = os.environ if env is None else env
        data: dict[str, Any] = dict(overrides or {})
        source: dict[str, str] = {k: f"limits.{k}" for k in data}
        for key, value in env.items():
            if key.startswith("QNET_LIMIT_"):
                name = key[len("QNET_LIMIT_"):].lower()
                data[name] = value
                source[name] = key
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = []
            for err in exc.errors():
                loc = err["loc"]
                where = source.get(str(loc[0]), f"limits.{loc[0]}") if loc else "limits"
                msg = err["msg"].removeprefix("Value error, ")
                problems.append(f"{where}: {msg}")
            raise TopologyError("invalid limits: " + "; ".join(problems), problems=tuple(problems)) from None

    def grpc_options(self) -> list[tuple[str, int]]:
        """Message-size options for a gRPC server or channel."""
        return [("grpc.max_receive_message_length", self.max_message_bytes),
                ("grpc.max_send_message_length", self.max_message_bytes)]

    # ------------------------------------------------------------------ request checks
    def timeout(self, value: float, what: str = "timeout_s") -> float:
        """A request's `timeout_s`: finite, >= 0 and at most `max_timeout_s` (0 means 'the default')."""
        if not math.isfinite(value) or value < 0 or value > self.max_timeout_s:
            raise InvalidOperation(f"{what} must be a finite number of seconds between 0 and {self.max_timeout_s:g}, "
                                   f"got {value}")
        return value

    def count(self, value: int, limit: int, what: str) -> int:
        """A batch size: refused with RESOURCE_EXHAUSTED above `limit`."""
        if value > limit:
            raise LimitExceeded(f"{what} of {value} is more than this node's limit of {limit}",
                                    limit=limit, value=value)
        return value


__all__ = ["Limits", "MiB"]
