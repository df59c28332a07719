"""Fixtures for the remote job machinery tests: the fake query service, storage and handlers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fake_query_service import FakeQueryService, QueryPlugin

from roost_core.remote import RemoteJobHandler, RemoteJobPlugin
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
    """Builds handlers (for the service's plugin by default) and closes them afterwards."""
    made: list[RemoteJobHandler[Any]] = []

    def make(plugin: RemoteJobPlugin[Any] | None = None, **kwargs: Any) -> RemoteJobHandler[Any]:
        handler = RemoteJobHandler(plugin or QueryPlugin(service), **kwargs)
        made.append(handler)
        return handler

    yield make
    for handler in made:
        handler.close()
