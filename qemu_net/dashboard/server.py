"""The dashboard's HTTP server (standard library `http.server`, one thread per request, in a thread).

Routes:

- ``GET /`` and ``GET /static/<file>``: the page (plain HTML, CSS and JavaScript shipped in the package,
  no build step, nothing fetched from the internet; the graph is inline SVG);
- ``GET /api/state``: one snapshot read from the nodes now (see `qemu_net.dashboard.collect`) plus the
  runs started from the page;
- ``GET /api/run``: the runs (newest first); ``GET /api/run/<id>``: one run;
- ``POST /api/run`` with ``{"kind": "teleport"|"swap_chain"|"qkd", "params": {...}}``: start a run;
  answers ``202`` with the run, ``400`` with ``{"error", "type"}`` for bad input.

The server binds 127.0.0.1 by default and port 0 gives a free port (`Dashboard.url` says which).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

from qemu_net.client.sync import Network
from qemu_net.dashboard.collect import PROBE_TIMEOUT_S, Collector
from qemu_net.dashboard.runs import RunBook
from qemu_net.errors import QnetError
from qemu_net.network.topology import Topology

log = logging.getLogger("qemu_net.dashboard")

_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png"}
#: Snapshots younger than this are reused (several tabs polling once a second read the nodes once).
MIN_READ_S = 0.5
#: A POST body larger than this is refused (413).
MAX_BODY = 64 * 1024


def _static(name: str) -> bytes | None:
    if "/" in name or name.startswith("."):
        return None
    f = resources.files("qemu_net.dashboard").joinpath("static", name)
    return f.read_bytes() if f.is_file() else None


class Dashboard:
    """A running dashboard for one network: `Dashboard(net, topology).start()`; `.url`; `.stop()`."""

    def __init__(self, net: Network, topology: Topology, *, metrics: Mapping[str, str] | None = None,
                 host: str = "127.0.0.1", port: int = 0, probe_timeout_s: float = PROBE_TIMEOUT_S) -> None:
        self.net = net
        self.topology = topology
        self.collector = Collector(net, topology, metrics=metrics, probe_timeout_s=probe_timeout_s)
        self.runs = RunBook(net, topology)
        dash = self

        class Handler(_Handler):
            dashboard = dash

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None
        self._state_lock = threading.Lock()
        self._last: tuple[float, dict[str, Any]] | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/"

    def state(self) -> dict[str, Any]:
        """A snapshot of the network; pages polling together share one read of the nodes per `MIN_READ_S`."""
        with self._state_lock:
            now = time.monotonic()
            if self._last is None or now - self._last[0] >= MIN_READ_S:
                self._last = (now, self.collector.state())
            s = dict(self._last[1])
        s["links"] = [dict(lk, keys=dict(lk["keys"])) for lk in s["links"]]
        latest = self.runs.latest_qkd()
        for link in s["links"]:
            q = latest.get(link["id"])
            link["keys"]["last_session"] = None if q is None else {
                "final_bits": q.get("final_bits"), "qber": q.get("qber"),
                "key_rate_per_virtual_s": q.get("key_rate_per_virtual_s"),
                "key_rate_per_pulse": q.get("key_rate_per_pulse")}
        s["runs"] = self.runs.runs()
        return s

    def start(self) -> Dashboard:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="dashboard-http", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        if self._thread is not None:  # serve_forever runs in our thread (not after a foreground serve)
            self._httpd.shutdown()
            self._thread.join(5)
        self._httpd.server_close()
        self.collector.close()
        self.runs.close()

    def __enter__(self) -> Dashboard:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    dashboard: Dashboard
    server_version = "qnet-dashboard"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, obj: Any) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json")

    def _error(self, status: int, message: str, kind: str = "") -> None:
        self._json(status, {"error": message, "type": kind})

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path in ("/", "/index.html"):
            path = "/static/index.html"
        if path.startswith("/static/"):
            name = path[len("/static/"):]
            body = _static(name)
            if body is None:
                return self._error(HTTPStatus.NOT_FOUND, f"no such file: {name}")
            ext = name[name.rfind("."):] if "." in name else ""
            return self._send(HTTPStatus.OK, body, _TYPES.get(ext, "application/octet-stream"))
        if path == "/api/state":
            return self._json(HTTPStatus.OK, self.dashboard.state())
        if path == "/api/run":
            return self._json(HTTPStatus.OK, {"runs": self.dashboard.runs.runs()})
        if path.startswith("/api/run/"):
            run = self.dashboard.runs.get(path[len("/api/run/"):])
            if run is None:
                return self._error(HTTPStatus.NOT_FOUND, "no such run")
            return self._json(HTTPStatus.OK, run.to_dict())
        return self._error(HTTPStatus.NOT_FOUND, f"no route {path}")

    def do_POST(self) -> None:
        if self.path.split("?", 1)[0] != "/api/run":
            return self._error(HTTPStatus.NOT_FOUND, f"no route {self.path}")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return self._error(HTTPStatus.BAD_REQUEST, "bad Content-Length")
        if length > MAX_BODY:
            return self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {MAX_BODY} bytes")
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return self._error(HTTPStatus.BAD_REQUEST, f"body is not JSON: {exc}")
        if not isinstance(body, dict):
            return self._error(HTTPStatus.BAD_REQUEST, "body: expected an object {kind, params}")
        try:
            run = self.dashboard.runs.start(str(body.get("kind", "")), body.get("params") or {})
        except QnetError as exc:
            return self._error(HTTPStatus.BAD_REQUEST, str(exc), type(exc).__name__)
        return self._json(HTTPStatus.ACCEPTED, run)
