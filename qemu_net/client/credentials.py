"""Which TLS credentials the SDK connects with, and the channels built from them.

`resolve` picks, in this order: nothing at all with ``insecure=True``; the certificate directory given
(``tls_dir=``, identity ``identity=`` or ``$QNET_TLS_IDENTITY``, default ``client``); the one named by
``$QNET_TLS_DIR``; the directory of a network this process started (`LocalNetwork` remembers its
nodes' addresses here); the directory `qnet up` recorded in its state file for a network of that name
whose nodes are at these addresses; else plaintext. A channel to a named node checks that the server's certificate
names that node (`qemu_net.security.tls.target_name_options`), whatever address it is reached at.

    creds = resolve({"alice": "127.0.0.1:5000"}, tls_dir="certs")
    channel = open_channel("127.0.0.1:5000", "alice", creds)
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import grpc

from qemu_net.security.tls import (
    TLS_DIR_ENV,
    TLS_IDENTITY_ENV,
    TlsCredentials,
    channel_credentials,
    load_credentials,
    target_name_options,
)

_known: dict[str, Path] = {}
_known_lock = threading.Lock()


def remember(addresses: Iterable[str], tls_dir: Path) -> None:
    """Networks this process started: connecting to one of these addresses uses `tls_dir`."""
    with _known_lock:
        for a in addresses:
            _known[a] = Path(tls_dir)


def forget(addresses: Iterable[str]) -> None:
    with _known_lock:
        for a in addresses:
            _known.pop(a, None)


def _from_up_state(network: str | None, addresses: Iterable[str]) -> Path | None:
    """The certificate directory of the `qnet up` network `network`, if its state file lists these addresses.
    (The state directory rule is `qemu_net.cli.common.state_dir`'s: ``$QNET_STATE_DIR``, else ``~/.qnet``.)"""
    if not network:
        return None
    path = Path(os.environ.get("QNET_STATE_DIR", Path.home() / ".qnet")) / f"{network}.json"
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or not state.get("tls_dir"):
        return None
    recorded = {str(v.get("address")) for v in (state.get("nodes") or {}).values() if isinstance(v, dict)}
    wanted = set(addresses)
    return Path(state["tls_dir"]) if wanted and wanted <= recorded else None


def resolve(addresses: Mapping[str, str] | Iterable[str], *, tls_dir: str | os.PathLike[str] | None = None,
            identity: str | None = None, insecure: bool = False, network: str | None = None) -> TlsCredentials | None:
    """The credentials to connect to `addresses` (of the network named `network`, if known) with
    (None: plaintext)."""
    if insecure:
        return None
    identity = identity or os.environ.get(TLS_IDENTITY_ENV) or None
    if tls_dir is None:
        tls_dir = os.environ.get(TLS_DIR_ENV) or None
    if tls_dir is None:
        values = addresses.values() if isinstance(addresses, Mapping) else addresses
        values = list(values)
        with _known_lock:
            found = next((_known[a] for a in values if a in _known), None)
        if found is None:
            found = _from_up_state(network, values)
        if found is None:
            return None
        tls_dir = found
    return load_credentials(Path(tls_dir), app=identity)


def channel_options(node: str | None, options: list[tuple[str, object]],
                    creds: TlsCredentials | None) -> list[tuple[str, object]]:
    """`options` plus, with TLS, the name the node's certificate carries."""
    return list(options) + (target_name_options(node) if creds is not None else [])


def open_channel(address: str, node: str | None, creds: TlsCredentials | None,
                 options: list[tuple[str, object]]) -> grpc.Channel:
    """A synchronous channel to `address` (the node `node`), with TLS if `creds`."""
    if creds is None:
        return grpc.insecure_channel(address, options=options)
    return grpc.secure_channel(address, channel_credentials(creds), options=channel_options(node, options, creds))


def open_aio_channel(address: str, node: str | None, creds: TlsCredentials | None,
                     options: list[tuple[str, object]],
                     interceptors: Sequence[grpc.aio.ClientInterceptor] | None = None) -> grpc.aio.Channel:
    """An asyncio channel (create it inside the running event loop)."""
    if creds is None:
        return grpc.aio.insecure_channel(address, options=options, interceptors=interceptors)
    return grpc.aio.secure_channel(address, channel_credentials(creds), options=channel_options(node, options, creds),
                                   interceptors=interceptors)


def channel_to(address: str, node: str | None = None, options: list[tuple[str, object]] | None = None) -> grpc.Channel:
    """A synchronous channel to `address` with the credentials `resolve` picks for it."""
    return open_channel(address, node, resolve([address]), list(options or []))


__all__ = ["channel_to", "forget", "open_aio_channel", "open_channel", "remember", "resolve"]
