"""YAML output shared by the renderers: safe_dump, with multi-line strings as literal blocks."""

from __future__ import annotations

from typing import Any

import yaml

from qemu_net.network.topology import Topology, parse_topology


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:  # no &id001 anchors: plain, greppable manifests
        return True


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_Dumper.add_representer(str, _str)


def dump(doc: Any) -> str:
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False)


def dump_all(docs: list[Any]) -> str:
    return yaml.dump_all(docs, Dumper=_Dumper, sort_keys=False, default_flow_style=False)


def topology_yaml(topology: Topology) -> str:
    """The topology as compact YAML (defaults left out); parsing it gives back an equal topology."""
    text = dump(topology.model_dump(mode="json", exclude_defaults=True))
    if parse_topology(yaml.safe_load(text)) != topology:  # pragma: no cover - a guard, not a branch
        text = dump(topology.model_dump(mode="json"))
    return text
