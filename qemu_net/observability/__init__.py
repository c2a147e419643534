"""Observability: OpenTelemetry traces across node processes (`tracing`) and structured JSON logs (`logs`).

Both are configured only by entry points (`qnet node`, the local launcher's nodes, `qnet` itself) from
the environment; importing this package configures nothing.
"""
