"""Structured JSON logs carry node, session and trace ids; the span helpers are inert when tracing is off."""

from __future__ import annotations

import json
import logging

from qemu_net.observability import logs, tracing


def _record(msg: str) -> logging.LogRecord:
    return logging.LogRecord("qemu_net.node", logging.INFO, __file__, 1, msg, (), None)


def test_json_log_line_has_node_and_session():
    """Inside bind_session a record names the node and the session; outside, no session key."""
    f = logs.JsonFormatter("alice")
    with logs.bind_session("s123"):
        line = json.loads(f.format(_record("swap done")))
    assert line["node"] == "alice" and line["session"] == "s123" and line["message"] == "swap done"
    assert line["level"] == "INFO" and line["logger"] == "qemu_net.node"
    assert "session" not in json.loads(f.format(_record("idle")))
    assert "trace_id" not in line  # tracing is off


def test_json_log_line_has_the_current_trace_ids():
    """With tracing on, a record logged inside a span carries that span's trace and span ids."""
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exp = InMemorySpanExporter()
    assert tracing.setup("t", node="bob", exporter=exp)
    try:
        with tracing.span("work", session="s9") as s:
            line = json.loads(logs.JsonFormatter("bob").format(_record("inside")))
        ctx = s.get_span_context()
        assert line["trace_id"] == f"{ctx.trace_id:032x}" and line["span_id"] == f"{ctx.span_id:016x}"
        (done,) = exp.get_finished_spans()
        assert done.attributes["qnet.session"] == "s9" and done.attributes["qnet.node"] == "bob"
    finally:
        tracing.reset()
    assert not tracing.enabled()
    with tracing.span("off") as nothing:
        assert nothing is None
    assert tracing.current_ids() == ("", "")
