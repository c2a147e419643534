"""The ETSI GS QKD 014 REST interface of a node's KME: HTTPS with mutual TLS (standard library).

    GET  /api/v1/keys/{slave_SAE_ID}/status
    GET  /api/v1/keys/{slave_SAE_ID}/enc_keys?number=N&size=BITS
    POST /api/v1/keys/{slave_SAE_ID}/enc_keys     {"number", "size", "additional_slave_SAE_IDs", "extension_*"}
    GET  /api/v1/keys/{master_SAE_ID}/dec_keys?key_ID=ID
    POST /api/v1/keys/{master_SAE_ID}/dec_keys    {"key_IDs": [{"key_ID": ...}, ...]}

The calling SAE is the DNS name in its client certificate (verified against the network CA by the TLS
handshake; `qemu_net.security.pki`); a certificate naming no SAE attached to this KME gets 401.
Errors are ``{"message": ..., "details": [...]}`` with 400 (bad request), 401 (not an SAE of this KME),
404 (unknown key ID) and 503 (a key pool on the path is empty, or the relay failed). The OpenAPI
description of what is served is ``docs/kme-openapi.yaml``.

The server is a `http.server.HTTPServer` whose connections are handled by a bounded thread pool (at
most `WORKERS` at once; the TLS handshake happens in the worker with a deadline), never a thread per
connection. Key material is never logged.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from qemu_net.kme.service import BadRequest, KmeError, NodeKme
from qemu_net.security.pki import identity_from_peercert, server_context

log = logging.getLogger("qemu_net.kme.http")

WORKERS = 8
HANDSHAKE_TIMEOUT_S = 10.0
MAX_BODY_BYTES = 1 << 20
PREFIX = "/api/v1/keys/"


def _int(v: Any, name: str) -> int:
    if isinstance(v, bool):
        raise BadRequest(f"{name} must be an integer")
    try:
        return int(v)
    except (TypeError, ValueError):
        raise BadRequest(f"{name}={v!r} must be an integer") from None


class _Handler(BaseHTTPRequestHandler):
    server_version = "qemu_net-kme/1"
    protocol_version = "HTTP/1.1"
    kme: NodeKme

    def log_message(self, fmt: str, *args: Any) -> None:  # requests are logged without bodies
        log.debug("%s %s", self.address_string(), fmt % args)

    def _send(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict[str, Any]:
        n = _int(self.headers.get("Content-Length", "0") or 0, "Content-Length")
        if n > MAX_BODY_BYTES:
            raise BadRequest(f"request body of {n} bytes exceeds {MAX_BODY_BYTES}")
        raw = self.rfile.read(n) if n else b""
        if not raw:
            return {}
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise BadRequest(f"request body is not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise BadRequest("request body must be a JSON object")
        return body

    def _dispatch(self, method: str) -> None:
        try:
            url = urlsplit(self.path)
            if not url.path.startswith(PREFIX):
                self._send(404, {"message": f"no such resource {url.path}"})
                return
            parts = url.path[len(PREFIX):].split("/")
            if len(parts) != 2 or not parts[0] or parts[1] not in ("status", "enc_keys", "dec_keys"):
                self._send(404, {"message": f"no such resource {url.path}"})
                return
            sae, op = unquote(parts[0]), parts[1]
            caller = self.kme.check_caller(identity_from_peercert(self.connection.getpeercert()))
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            body = self._body() if method == "POST" else {}
            if op == "status":
                if method != "GET":
                    raise BadRequest("status is a GET")
                self._send(200, self.kme.status(caller, sae))
            elif op == "enc_keys":
                src = body if method == "POST" else query
                mandatory = body.get("extension_mandatory") if method == "POST" else None
                if mandatory:
                    raise BadRequest("this KME supports no mandatory extensions",
                                     details=[{"extension_mandatory": mandatory}])
                extra = src.get("additional_slave_SAE_IDs") or []
                if isinstance(extra, str):
                    extra = [s for s in extra.split(",") if s]
                if not isinstance(extra, list) or not all(isinstance(s, str) for s in extra):
                    raise BadRequest("additional_slave_SAE_IDs must be a list of SAE IDs")
                self._send(200, self.kme.enc_keys(caller, sae, _int(src.get("number", 1), "number"),
                                                  _int(src.get("size", 256), "size"), extra))
            else:
                if method == "POST":
                    ids = body.get("key_IDs")
                    if not isinstance(ids, list) or not all(isinstance(i, dict) for i in ids):
                        raise BadRequest("key_IDs must be a list of {\"key_ID\": ...} objects")
                    key_ids = [str(i.get("key_ID", "")) for i in ids]
                else:
                    key_ids = list(parse_qs(url.query).get("key_ID", []))
                self._send(200, self.kme.dec_keys(caller, sae, key_ids))
        except KmeError as exc:
            details = exc.fields.get("details")
            self._send(exc.status, {"message": exc.message, **({"details": details} if details else {})})
        except Exception as exc:
            log.exception("kme %s: %s %s failed", self.kme.name, method, self.path)
            self._send(503, {"message": f"KME error: {type(exc).__name__}: {exc}"})

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")


class KmeHttpServer(HTTPServer):
    """HTTPS (mutual TLS) ETSI 014 server over a `NodeKme`; `start()` serves in a daemon thread."""

    def __init__(self, kme: NodeKme, *, host: str, port: int, cert_dir: Path) -> None:
        handler = type("KmeHandler", (_Handler,), {"kme": kme})
        super().__init__((host, port), handler)
        self.kme = kme
        self.tls = server_context(cert_dir / f"{kme.name}.pem", cert_dir / f"{kme.name}.key", cert_dir / "ca.pem")
        self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix=f"kme-{kme.name}-http")
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        return f"{host!s}:{port}"

    def process_request(self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any) -> None:
        assert isinstance(request, socket.socket)  # a TCP server: a connected socket, never a datagram
        self._pool.submit(self._serve_one, request, client_address)

    def _serve_one(self, request: socket.socket, client_address: Any) -> None:
        try:
            # headers and body are separate writes: without NODELAY, Nagle + delayed ACK add ~40 ms
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            request.settimeout(HANDSHAKE_TIMEOUT_S)
            tls = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            log.info("kme %s: TLS handshake with %s failed: %s", self.kme.name, client_address, exc)
            self.shutdown_request(request)
            return
        try:
            tls.settimeout(30.0)
            self.finish_request(tls, client_address)
        except Exception as exc:
            log.info("kme %s: connection from %s ended: %s", self.kme.name, client_address, exc)
        finally:
            self.shutdown_request(tls)

    def start(self) -> str:
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.5},
                                        name=f"kme-{self.kme.name}-accept", daemon=True)
        self._thread.start()
        return self.address

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self._pool.shutdown(wait=False, cancel_futures=True)


__all__ = ["PREFIX", "KmeHttpServer"]
