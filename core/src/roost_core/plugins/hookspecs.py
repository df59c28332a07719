"""Engine-side hook specifications: the reference manual for engine plugins.

An engine plugin is a module (or object) listed under the ``roost.engine`` entry-point group, holding
functions decorated with :data:`roost_core.hookimpl` whose names match the hooks below. Each hook receives
a ``register`` callable; call it once per thing the plugin provides::

    from roost_core import hookimpl

    @hookimpl
    def roost_task_handlers(register):
        register(MyHandler(), task_types=["my-task"])

Roost's own handlers, sinks and stores are registered through these same hooks. A function named like a
hook but misspelled fails plugin loading with an error naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

import pluggy

from roost_core.events.sinks import EventSink
from roost_core.handler import TaskHandler
from roost_core.storage import BlobStore

PROJECT = "roost_engine"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

SinkFactory = Callable[[Mapping[str, Any]], EventSink]
"""Builds an event sink from its configuration section."""
StoreFactory = Callable[[Mapping[str, Any]], BlobStore]
"""Builds a blob store from its configuration section."""


class RegisterHandler(Protocol):
    """The ``register`` callable of :func:`roost_task_handlers`."""

    def __call__(self, handler: TaskHandler, *, task_types: Iterable[str]) -> None: ...


class RegisterSink(Protocol):
    """The ``register`` callable of :func:`roost_event_sinks`."""

    def __call__(self, name: str, factory: SinkFactory) -> None: ...


class RegisterStore(Protocol):
    """The ``register`` callable of :func:`roost_blob_stores`."""

    def __call__(self, scheme: str, factory: StoreFactory) -> None: ...


@hookspec
def roost_task_handlers(register: RegisterHandler) -> None:
    """Register task handlers and the task types each one serves."""


@hookspec
def roost_event_sinks(register: RegisterSink) -> None:
    """Register event sink factories by name (the name configuration uses to pick them)."""


@hookspec
def roost_blob_stores(register: RegisterStore) -> None:
    """Register blob store factories by the URI scheme they serve."""
