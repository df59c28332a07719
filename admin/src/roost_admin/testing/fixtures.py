"""The admin's pytest plugin (entry point ``pytest11``): the ``roost_start`` fixture, used by the handler
conformance suite (:mod:`roost_core.testing.conformance`) and by plugin packages' own tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from roost_admin.testing.server import RoostServer, start_roost


@pytest.fixture
def roost_start() -> Iterator[Callable[..., RoostServer]]:
    """Starts `roost start` servers (``start(folder, settings, **options)``, see
    :func:`~roost_admin.testing.server.start_roost`); stops them after the test."""
    started: list[RoostServer] = []

    def start(folder: Path, settings: Mapping[str, Any] | None = None, **options: Any) -> RoostServer:
        server = start_roost(folder, settings, **options)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
