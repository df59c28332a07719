"""Fixtures for the remote job machinery tests: the fake query service, storage and handlers."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from fake_query_service import FAST, FakeQueryService, QueryPlugin, QuerySettings

from roost_core.remote import RemoteJobHandler, RemoteJobPlugin
from roost_core.settings import validate_section
from roost_core.storage import Storage
from roost_core.storage.memory import MemoryStore

MakeHandler = Callable[..., RemoteJobHandler[Any]]


@pytest.fixture
def service() -> FakeQueryService:
    """A fresh query service."""
    return FakeQueryService()


@pytest.fixture
def storage() -> Storage:
    """``mem://`` storage for inputs and outputs."""
    return Storage({"mem": MemoryStore()})


@pytest.fixture
def make_handler(service: FakeQueryService) -> Iterator[MakeHandler]:
    """Builds handlers (for the service's plugin by default) from a settings section (the fast test
    settings by default), validated as the engine validates it, and closes them afterwards."""
    made: list[RemoteJobHandler[Any]] = []

    def make(
        plugin: RemoteJobPlugin[Any] | None = None, *, config: Mapping[str, Any] = FAST, **kwargs: Any
    ) -> RemoteJobHandler[Any]:
        settings = validate_section(QuerySettings, config, path="engine.handlers.fake-query")
        handler = RemoteJobHandler(plugin or QueryPlugin(service), settings, **kwargs)
        made.append(handler)
        return handler

    yield make
    for handler in made:
        handler.close()
