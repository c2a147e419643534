"""Structured logs: one JSON object per line carrying the node, the protocol session and the trace ids.

    qnet node ... --log-format json        # or QNET_LOG_FORMAT=json

Each record has ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``, ``node``, and when known
``session`` (the protocol session the log line belongs to, bound by the node while a role runs) and
``trace_id``/``span_id`` (with tracing on). Exceptions go in ``exc``. Nothing else is added, so no key
material can leak through a formatter.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
import os
from collections.abc import Iterator

#: The protocol session the current thread works for (set with `bind_session`).
SESSION: contextvars.ContextVar[str] = contextvars.ContextVar("qnet_session", default="")


@contextlib.contextmanager
def bind_session(session: str) -> Iterator[None]:
    token = SESSION.set(session)
    try:
        yield
    finally:
        SESSION.reset(token)


class JsonFormatter(logging.Formatter):
    def __init__(self, node: str = "") -> None:
        super().__init__()
        self.node = node

    def format(self, record: logging.LogRecord) -> str:
        from qemu_net.observability.tracing import current_ids

        out = {
            "time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "node": self.node,
        }
        session = SESSION.get()
        if session:
            out["session"] = session
        trace_id, span_id = current_ids()
        if trace_id:
            out["trace_id"], out["span_id"] = trace_id, span_id
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out)


def configure(*, node: str = "", level: str = "INFO", fmt: str | None = None) -> None:
    """Configure the root logger (entry points only): ``fmt`` 'json' or 'text' (default $QNET_LOG_FORMAT)."""
    fmt = (fmt or os.environ.get("QNET_LOG_FORMAT", "text")).lower()
    if fmt not in ("json", "text"):
        raise ValueError(f"log format {fmt!r}: use 'json' or 'text'")
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter(node))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
