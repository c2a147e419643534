"""Fixtures for the multi-host tests: a lab of network namespaces (see netns_harness.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from netns_harness import NetnsLab, nft_unusable_reason, unusable_reason  # noqa: E402

_REASON = unusable_reason()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.netns)
            if _REASON:
                item.add_marker(pytest.mark.skip(reason=_REASON))


@pytest.fixture
def netns_lab_factory(tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    """Make labs with `factory(hosts)`; every lab is closed when the test ends, whatever happens."""
    labs: list[NetnsLab] = []

    def make(hosts: list[str]) -> NetnsLab:
        lab = NetnsLab(hosts=hosts, workdir=tmp_path / f"lab{len(labs)}")
        labs.append(lab)
        return lab.__enter__()

    try:
        yield make
    finally:
        for lab in labs:
            lab.close()


@pytest.fixture
def nft_available() -> None:
    reason = nft_unusable_reason()
    if reason:
        pytest.skip(reason)
