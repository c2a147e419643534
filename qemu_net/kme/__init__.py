"""Key management above QKD: an ETSI GS QKD 014 key manager (KME) per node over mutual TLS,
trusted-node key relay along paths of QKD links, and continuous key pools.

`start_kme(core, config)` (called by the node server when ``QNET_KME_CERT_DIR`` is set) starts the
relay listeners, the pool fillers and the HTTPS server, and returns a handle to stop them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qemu_net.kme.http import KmeHttpServer
from qemu_net.kme.service import KmeConfig, NodeKme


@dataclass
class RunningKme:
    kme: NodeKme
    server: Any
    address: str

    def stop(self) -> None:
        self.kme.stop()
        self.server.stop()


def start_kme(core: Any, config: KmeConfig) -> RunningKme:
    """Start the KME of the node that owns `core`; writes ``<address_dir>/<node>.json`` if configured."""
    from qemu_net.node.key_delivery import node_keys  # the node package imports this module

    kme = NodeKme(core, node_keys(core), config)
    server = KmeHttpServer(kme, host=config.host, port=config.port, cert_dir=Path(config.cert_dir))
    address = server.start()
    kme.start()
    metrics_port = None
    if config.metrics_port is not None:
        from qemu_net.kme.metrics import serve_pool_metrics

        metrics_port = serve_pool_metrics(kme, config.metrics_port, config.host)
    if config.address_dir:
        path = Path(config.address_dir) / f"{core.name}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"node": core.name, "address": address, "metrics_port": metrics_port}))
        os.replace(tmp, path)
    return RunningKme(kme, server, address)


def start_kme_from_env(core: Any) -> RunningKme | None:
    """The KME configured by the ``QNET_KME_*`` environment (None when ``QNET_KME_CERT_DIR`` is unset)."""
    config = KmeConfig.from_env()
    return start_kme(core, config) if config is not None else None


__all__ = ["KmeConfig", "NodeKme", "RunningKme", "start_kme", "start_kme_from_env"]
