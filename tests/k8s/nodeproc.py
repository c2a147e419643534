"""Helpers for tests that start `qnet node` processes one by one (as pods would)."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

REPO = Path(__file__).resolve().parents[2]


def reserve_port() -> socket.socket:
    """A bound, not listening, loopback socket: its port refuses connections until it is closed and reused."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    return s


class NodeProc:
    """One `python -m qemu_net.cli.main node` process; its stderr is read line by line."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None, preexec=None) -> None:
        full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
        self.proc = subprocess.Popen([sys.executable, "-m", "qemu_net.cli.main", "node", *args], cwd=REPO,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=full_env,
                                     preexec_fn=preexec)
        self.lines: list[str] = []
        self._buf = b""

    def wait_line(self, needle: str, deadline_s: float) -> str:
        """The first stderr line containing `needle`, read until the deadline (AssertionError after)."""
        end = time.monotonic() + deadline_s
        for line in self.lines:
            if needle in line:
                return line
        fd = self.proc.stderr.fileno()
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {needle!r} within {deadline_s} s; stderr so far, then the node's "
                                     "threads:\n" + "\n".join(self.lines + self._thread_dump()))
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AssertionError(f"node exited ({self.proc.wait()}) before {needle!r}:\n" + "\n".join(self.lines))
            self._buf += chunk
            *done, self._buf = self._buf.split(b"\n")
            # Keep every line read, also those after the match: a later wait may be for one of them (the
            # node logs some things once, e.g. a readiness change right after "serving on port").
            fresh = [raw.decode(errors="replace") for raw in done]
            self.lines.extend(fresh)
            for line in fresh:
                if needle in line:
                    return line

    def _thread_dump(self, within_s: float = 5.0) -> list[str]:
        """Every thread's stack, as the node writes it on SIGUSR1 (what it was doing when a wait ran out)."""
        if self.proc.poll() is not None:
            return [f"(the node has exited: {self.proc.returncode})"]
        self.proc.send_signal(signal.SIGUSR1)
        fd, out, end = self.proc.stderr.fileno(), b"", time.monotonic() + within_s
        while (left := end - time.monotonic()) > 0:
            ready, _, _ = select.select([fd], [], [], min(left, 0.5))
            if not ready:
                if out:
                    break  # the dump is written at once; a quiet half second after it means it is complete
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            out += chunk
        return (self._buf + out).decode(errors="replace").splitlines()

    def port(self, deadline_s: float = 180.0) -> int:
        line = self.wait_line("serving on port", deadline_s)
        return int(line.split("serving on port", 1)[1].split()[0])

    def probe_port(self, deadline_s: float = 180.0) -> int:
        """The plaintext health-only port (the node was started with --probe-port)."""
        line = self.wait_line("serving on port", deadline_s)
        assert "probe port" in line, line
        return int(line.split("probe port", 1)[1].split(",")[0].split(")")[0])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.proc.stderr:
            self.proc.stderr.close()


@contextlib.contextmanager
def node(args: list[str], **kw) -> Iterator[NodeProc]:
    p = NodeProc(args, **kw)
    try:
        yield p
    finally:
        p.stop()


def certify(topology: Path, out: Path) -> Path:
    """The network's certificate directory (`qnet certs` layout) for `topology`, written to `out`."""
    from qemu_net.network.topology import load_topology
    from qemu_net.security.tls import write_network_certs

    write_network_certs(load_topology(topology), out)
    return out


def health(port: int, service: str, timeout_s: float = 10.0) -> str:
    """`service`'s status on a plaintext health port (a node's probe port)."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        resp = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout_s)
    return health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)


def wait_status(port: int, service: str, want: str, deadline_s: float) -> float:
    """Watch `service` on the node until it reports `want` (seconds taken); AssertionError at the deadline."""
    t0 = time.monotonic()
    seen = []
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        stream = health_pb2_grpc.HealthStub(ch).Watch(health_pb2.HealthCheckRequest(service=service),
                                                      timeout=deadline_s)
        try:
            for resp in stream:
                name = health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)
                seen.append(name)
                if name == want:
                    stream.cancel()
                    return time.monotonic() - t0
        except grpc.RpcError as exc:
            raise AssertionError(f"{service!r} never {want} within {deadline_s} s (saw {seen}, {exc.code()})") from exc
    raise AssertionError(f"watch of {service!r} ended without {want} (saw {seen})")
