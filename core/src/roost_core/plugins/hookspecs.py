"""Engine-side hook specifications: the reference manual for engine plugins.

An engine plugin is a module (or object) listed under the ``roost.engine`` entry-point group, holding
functions decorated with :data:`roost_core.hookimpl` whose names match the hooks below. Each hook receives
a ``register`` callable; call it once per thing the plugin provides::

    from roost_core import hookimpl

    @hookimpl
    def roost_task_handlers(register):
        register("my-handler", MyHandler, task_types=["my-task"], default=True, settings=MySettings)

Roost's own handlers, sinks and stores are registered through these same hooks. A function named like a
hook but misspelled fails loading that plugin with an error naming it; the other plugins keep working.

For mypy to check a plugin's hook signatures, assign its module to the protocol of each hook it implements
(in a test or any type-checked module; nothing happens at run time)::

    import roost_mine.engine
    from roost_core.plugins.hookspecs import TaskHandlersPlugin

    plugin: TaskHandlersPlugin = roost_mine.engine  # mypy names a wrong or misspelled hook here
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import pluggy

from roost_core.events.sinks import EventSink
from roost_core.handler import TaskHandler
from roost_core.storage import BlobStore

if TYPE_CHECKING:
    from pydantic import BaseModel

PROJECT = "roost_engine"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

SinkFactory = Callable[[Mapping[str, Any]], EventSink]
"""Builds an event sink from its configuration section."""
StoreFactory = Callable[[Mapping[str, Any]], BlobStore]
"""Builds a blob store from its configuration section."""


HandlerFactory = Callable[..., TaskHandler]
"""Builds a handler: called with the handler's validated settings when it registered a settings class, else
with no arguments. A handler class whose ``__init__`` takes its settings is a factory."""


class RegisterHandler(Protocol):
    """The ``register`` callable of :func:`roost_task_handlers`."""

    def __call__(
        self,
        name: str,
        factory: HandlerFactory,
        *,
        task_types: Iterable[str],
        default: bool | Iterable[str] = False,
        settings: type[BaseModel] | str | None = None,
    ) -> None:
        """Register the handler ``name`` (how configuration refers to it) for ``task_types``.

        ``default`` offers it as the default handler of all (True) or some of its task types; claim it only
        for task types your plugin introduces, since two claims for one task type are a start-up error.
        ``settings`` is its :class:`~roost_core.settings.HandlerSettings` subclass, or ``"module:Class"`` to
        import it only when an engine builds or checks its handlers (keeps plugin loading light).
        """


class RegisterSink(Protocol):
    """The ``register`` callable of :func:`roost_event_sinks`."""

    def __call__(self, name: str, factory: SinkFactory) -> None: ...


class RegisterStore(Protocol):
    """The ``register`` callable of :func:`roost_blob_stores`."""

    def __call__(self, scheme: str, factory: StoreFactory) -> None: ...


@hookspec
def roost_task_handlers(register: RegisterHandler) -> None:
    """Register task handler factories, the task types each one serves, and their settings classes.

    Nothing is built here: an engine builds each handler once, with settings validated from its
    configuration (``engine.handlers.<name>``, and the shared sections its settings read).
    """


@hookspec
def roost_event_sinks(register: RegisterSink) -> None:
    """Register event sink factories by name (the name configuration uses to pick them)."""


@hookspec
def roost_blob_stores(register: RegisterStore) -> None:
    """Register blob store factories by the URI scheme they serve."""


class TaskHandlersPlugin(Protocol):
    """An engine plugin implementing :func:`roost_task_handlers`, for type checkers (see the module's
    docstring)."""

    def roost_task_handlers(self, register: RegisterHandler) -> None:
        """See :func:`roost_task_handlers`."""


class EventSinksPlugin(Protocol):
    """An engine plugin implementing :func:`roost_event_sinks`, for type checkers."""

    def roost_event_sinks(self, register: RegisterSink) -> None:
        """See :func:`roost_event_sinks`."""


class BlobStoresPlugin(Protocol):
    """An engine plugin implementing :func:`roost_blob_stores`, for type checkers."""

    def roost_blob_stores(self, register: RegisterStore) -> None:
        """See :func:`roost_blob_stores`."""
