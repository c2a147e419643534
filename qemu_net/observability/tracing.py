"""OpenTelemetry traces across node processes: one protocol run is one trace.

Off by default, and then free: no tracer provider, no interceptor on any server or channel, and each
hook below is one check of a module-level flag. Turned on by the standard environment variables:

    OTEL_TRACES_EXPORTER=otlp      # OTLP to OTEL_EXPORTER_OTLP_ENDPOINT
                                   # (OTEL_EXPORTER_OTLP_PROTOCOL grpc|http/protobuf)
    OTEL_TRACES_EXPORTER=console   # one JSON span per line on standard error
    OTEL_TRACES_EXPORTER=none      # (or unset, or OTEL_SDK_DISABLED=true) off
    OTEL_TRACES_EXPORTER=jsonl QNET_TRACES_FILE=spans.jsonl   # ours: append spans to a file (tests, offline)

What is traced: every gRPC call a node serves (a SERVER span, parent taken from the W3C
``traceparent`` in the call's metadata) and every call made through a channel passed to
`intercept_channel` (a CLIENT span whose context is injected into the metadata); each protocol role a
node runs (`role_span`); `Network.run_roles` in the SDK opens one span for the whole run, so the roles
at every node, their peer calls and the nodes' answers all land in one trace.

Spans carry ``qnet.node`` (the process's node), ``rpc.service``/``rpc.method`` and, for roles,
``qnet.session`` and ``qnet.role``. Nothing secret is recorded (no payloads, no keys).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import grpc

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
    from opentelemetry.trace import Tracer

#: The node (or client) name this process traces as; set by `setup`.
_SERVICE: dict[str, str] = {}
_ENABLED = False
_LOCK = threading.Lock()
_PROVIDER: Any = None
_WRAPPED: weakref.WeakSet[Any] = weakref.WeakSet()
EXPORTERS = ("otlp", "console", "jsonl", "none")


def exporter_name() -> str:
    """The exporter the environment asks for ('none' when tracing is off)."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return "none"
    name = os.environ.get("OTEL_TRACES_EXPORTER", "none").strip().lower() or "none"
    return name.split(",")[0].strip()


def enabled() -> bool:
    """True once `setup` installed a tracer provider in this process."""
    return _ENABLED


def _exporter(name: str) -> tuple[SpanExporter | JsonLinesSpanExporter, bool]:
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter

    if name == "console":
        return ConsoleSpanExporter(out=sys.stderr, formatter=lambda s: s.to_json(indent=None) + "\n"), False
    if name == "jsonl":
        path = os.environ.get("QNET_TRACES_FILE")
        if not path:
            raise ValueError("OTEL_TRACES_EXPORTER=jsonl needs QNET_TRACES_FILE (a path to append spans to)")
        return JsonLinesSpanExporter(path), False
    if name == "otlp":
        protocol = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                                  os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")).strip().lower()
        if protocol.startswith("http"):
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

            return HttpExporter(), True
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

        return GrpcExporter(), True
    raise ValueError(f"OTEL_TRACES_EXPORTER={name!r}: use one of {', '.join(EXPORTERS)}")


def setup(service: str, *, node: str = "", exporter: Any = None) -> bool:
    """Install a tracer provider for this process if the environment (or `exporter`) asks for one.

    `exporter`: an OpenTelemetry SpanExporter to use instead of the environment's (tests pass an
    in-memory one). Returns whether tracing is on. Idempotent per process.
    """
    global _ENABLED, _PROVIDER  # noqa: PLW0603 - module-level flags: each hook's cost when off is one read
    with _LOCK:
        if _ENABLED:
            return True
        batch = False
        if exporter is None:
            name = exporter_name()
            if name == "none":
                return False
            exporter, batch = _exporter(name)
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

        attrs: dict[str, str | int] = {"service.name": os.environ.get("OTEL_SERVICE_NAME", service),
                                       "process.pid": os.getpid()}
        if node:
            attrs["qnet.node"] = node
        provider = TracerProvider(resource=Resource.create(attrs))
        provider.add_span_processor(BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter))
        # Our own provider (not the process-global one), so a test can turn tracing off again (`reset`).
        _PROVIDER = provider
        _SERVICE.update(service=service, node=node)
        _ENABLED = True
        return True


def setup_node(node: str) -> bool:
    """`setup` for a node process (its outgoing peer channels are wrapped by `intercept_channel`)."""
    return setup("qnet-node", node=node)


def shutdown() -> None:
    """Flush and stop the exporter (a node calls this when it drains)."""
    if _PROVIDER is not None:
        _PROVIDER.shutdown()


def reset() -> None:
    """Turn tracing off again in this process (tests). Channels already wrapped stay wrapped."""
    global _ENABLED, _PROVIDER  # noqa: PLW0603 - module-level flags: each hook's cost when off is one read
    with _LOCK:
        shutdown()
        _ENABLED = False
        _PROVIDER = None
        _SERVICE.clear()


def _tracer() -> Tracer:
    tracer: Tracer = _PROVIDER.get_tracer("qemu_net")
    return tracer


# ------------------------------------------------------------------------------------ propagation
def _inject(metadata: Sequence[tuple[str, str | bytes]]) -> list[tuple[str, str | bytes]]:
    from opentelemetry.propagate import inject

    carrier: dict[str, str] = {}
    inject(carrier)
    return [*(m for m in metadata if m[0] not in carrier), *carrier.items()]


def _extract(metadata: Any) -> Context:
    from opentelemetry.propagate import extract

    return extract({k: v for k, v in (metadata or ()) if isinstance(v, str)})


def _split(method: str) -> tuple[str, str]:
    service, _, name = method.lstrip("/").partition("/")
    return service, name


# ------------------------------------------------------------------------------------ server side
class _ServerInterceptor(grpc.ServerInterceptor):
    """A SERVER span per call, child of the caller's span (W3C traceparent in the metadata)."""

    def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler  # health/reflection streams are not traced
        from opentelemetry import trace

        method = handler_call_details.method
        service, name = _split(method)
        inner = handler.unary_unary
        metadata = handler_call_details.invocation_metadata

        def traced(request: Any, context: grpc.ServicerContext) -> Any:
            if not _ENABLED:
                return inner(request, context)
            attrs = {"rpc.system": "grpc", "rpc.service": service, "rpc.method": name,
                     "qnet.node": _SERVICE.get("node", "")}
            with _tracer().start_as_current_span(method.lstrip("/"), context=_extract(metadata),
                                                 kind=trace.SpanKind.SERVER, attributes=attrs) as span:
                try:
                    return inner(request, context)
                finally:
                    code = context.code() if hasattr(context, "code") else None
                    if code is not None and code != grpc.StatusCode.OK:
                        span.set_attribute("rpc.grpc.status_code", int(code.value[0]))
                        span.set_status(trace.Status(trace.StatusCode.ERROR, str(code.name)))

        return grpc.unary_unary_rpc_method_handler(traced, request_deserializer=handler.request_deserializer,
                                                   response_serializer=handler.response_serializer)


def server_interceptors() -> list[grpc.ServerInterceptor]:
    """What to pass as a server's ``interceptors``: empty (nothing installed) unless tracing is on."""
    return [_ServerInterceptor()] if _ENABLED else []


# ------------------------------------------------------------------------------------ client side
class _ClientInterceptor(grpc.UnaryUnaryClientInterceptor):
    """A CLIENT span per call, its context injected into the call's metadata."""

    def intercept_unary_unary(self, continuation: Callable[[grpc.ClientCallDetails, Any], Any],
                              client_call_details: grpc.ClientCallDetails, request: Any) -> Any:
        if not _ENABLED:
            return continuation(client_call_details, request)
        from opentelemetry import trace

        method = client_call_details.method
        service, name = _split(method)
        attrs = {"rpc.system": "grpc", "rpc.service": service, "rpc.method": name,
                 "qnet.node": _SERVICE.get("node", "")}
        with _tracer().start_as_current_span(method.lstrip("/"), kind=trace.SpanKind.CLIENT, attributes=attrs) as span:
            details = _Details(client_call_details, _inject(list(client_call_details.metadata or ())))
            outcome = continuation(details, request)
            code = outcome.code() if hasattr(outcome, "code") else None
            if code is not None and code != grpc.StatusCode.OK:
                span.set_attribute("rpc.grpc.status_code", int(code.value[0]))
                span.set_status(trace.Status(trace.StatusCode.ERROR, str(code.name)))
            return outcome


class _Details(grpc.ClientCallDetails):
    def __init__(self, base: grpc.ClientCallDetails, metadata: list[tuple[str, str | bytes]]) -> None:
        self.method = base.method
        self.timeout = base.timeout
        self.metadata = tuple(metadata)
        self.credentials = base.credentials
        self.wait_for_ready = getattr(base, "wait_for_ready", None)
        self.compression = getattr(base, "compression", None)


class _AioClientInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    """The asyncio SDK's CLIENT spans (the span lasts until the answer arrives)."""

    async def intercept_unary_unary(self, continuation: Callable[..., Any], client_call_details: Any,
                                    request: Any) -> Any:
        if not _ENABLED:
            return await continuation(client_call_details, request)
        from opentelemetry import trace

        method = client_call_details.method
        method = method.decode() if isinstance(method, bytes) else method
        service, name = _split(method)
        attrs = {"rpc.system": "grpc", "rpc.service": service, "rpc.method": name}
        with _tracer().start_as_current_span(method.lstrip("/"), kind=trace.SpanKind.CLIENT, attributes=attrs):
            details = client_call_details._replace(metadata=grpc.aio.Metadata(
                *_inject(list(client_call_details.metadata or ()))))
            call = await continuation(details, request)
            await call  # raises the call's error inside the span, which records it
            return call


def aio_interceptors() -> list[Any] | None:
    """What to pass as a grpc.aio channel's ``interceptors``: None (nothing installed) unless tracing is on."""
    return [_AioClientInterceptor()] if _ENABLED else None


def intercept_channel(channel: grpc.Channel) -> grpc.Channel:
    """The channel itself when tracing is off; else the channel with a tracing interceptor (once)."""
    if not _ENABLED or channel in _WRAPPED:
        return channel
    wrapped = grpc.intercept_channel(channel, _ClientInterceptor())
    _WRAPPED.add(wrapped)
    return wrapped


# ------------------------------------------------------------------------------------ spans
@contextlib.contextmanager
def span(name: str, **attributes: Any) -> Iterator[Any]:
    """An INTERNAL span (a no-op context when tracing is off)."""
    if not _ENABLED:
        yield None
        return
    attrs = {k if "." in k else f"qnet.{k}": v for k, v in attributes.items() if v is not None}
    attrs.setdefault("qnet.node", _SERVICE.get("node", ""))
    with _tracer().start_as_current_span(name, attributes=attrs) as s:
        yield s


def role_span(role: str, session: str) -> contextlib.AbstractContextManager[Any]:
    """The span of one protocol role at this node."""
    return span(f"role {role}", role=role, session=session) if _ENABLED else contextlib.nullcontext()


def wrap_context(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` bound to the caller's OpenTelemetry context (for work handed to another thread)."""
    if not _ENABLED:
        return fn
    import contextvars

    ctx = contextvars.copy_context()
    return lambda *a, **k: ctx.run(fn, *a, **k)


def current_ids() -> tuple[str, str]:
    """(trace id, span id) of the current span as hex, or ('', '')."""
    if not _ENABLED:
        return "", ""
    from opentelemetry import trace

    sc = trace.get_current_span().get_span_context()
    if not sc.is_valid:
        return "", ""
    return f"{sc.trace_id:032x}", f"{sc.span_id:016x}"


class JsonLinesSpanExporter:
    """Appends each finished span as one JSON line to a file (ours: ``OTEL_TRACES_EXPORTER=jsonl``).

    One ``write`` per span on a file opened in append mode, so several processes can share the file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        from opentelemetry.sdk.trace.export import SpanExportResult

        lines = "".join(json.dumps(span_record(s)) + "\n" for s in spans)
        with self._lock, open(self.path, "a") as f:
            f.write(lines)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def span_record(s: Any) -> dict[str, Any]:
    """A finished span as a flat JSON-able record."""
    ctx = s.get_span_context()
    return {
        "name": s.name,
        "trace_id": f"{ctx.trace_id:032x}",
        "span_id": f"{ctx.span_id:016x}",
        "parent_id": f"{s.parent.span_id:016x}" if s.parent is not None else None,
        "kind": s.kind.name,
        "start_ns": s.start_time,
        "end_ns": s.end_time,
        "status": s.status.status_code.name,
        "attributes": dict(s.attributes or {}),
        "resource": {k: v for k, v in s.resource.attributes.items()
                     if k in ("service.name", "process.pid", "qnet.node")},
    }


__all__ = [
    "JsonLinesSpanExporter",
    "aio_interceptors",
    "current_ids",
    "enabled",
    "exporter_name",
    "intercept_channel",
    "reset",
    "role_span",
    "server_interceptors",
    "setup",
    "setup_node",
    "shutdown",
    "span",
    "span_record",
    "wrap_context",
]
