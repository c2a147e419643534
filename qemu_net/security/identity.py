"""Who is calling: the identity a gRPC caller proved with its certificate.

With mutual TLS every caller presents a certificate issued by the network CA (`qemu_net.security.pki`),
whose subject alternative name is the caller's name: a node's topology name, or an application's /
client's identity. `caller_identity` reads that name back from the call's auth context; on a plaintext
(``--insecure``) server it returns None, and callers of it decide what an unauthenticated caller may do.

    ident = caller_identity(context)      # "alice", "sae-alice", or None without TLS
"""

from __future__ import annotations

from typing import Any

ANONYMOUS = "anonymous"


def caller_identity(context: Any) -> str | None:
    """The first DNS name in the caller's verified certificate, or None on a plaintext connection."""
    try:
        auth = context.auth_context()
    except Exception:
        return None
    if not auth or auth.get("transport_security_type", [b""])[0] != b"ssl":
        return None
    for key in ("x509_subject_alternative_name", "x509_common_name"):
        for value in auth.get(key, ()):
            name = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
            if name:
                return name
    return None


def caller_name(context: Any) -> str:
    """`caller_identity`, or ``"anonymous"`` for a caller without a certificate."""
    return caller_identity(context) or ANONYMOUS
