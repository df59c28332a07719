"""roost-core: the workflow compiler, the node state machine, events, storage and the plugin contract.

Names are imported on first use, so ``import roost_core`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from roost_core.lazy import lazy_exports

if TYPE_CHECKING:
    from roost_core.errors import ErrorKind, ExecutionError, RoostError
    from roost_core.events import Event, EventSink, JsonLinesSink, MemorySink
    from roost_core.handler import TaskContext, TaskHandler, TaskLog, TaskPhase, Transition
    from roost_core.plugins import EnginePlugins, hookimpl
    from roost_core.storage import BlobNotFoundError, BlobStore, Storage, StorageError

_EXPORTS = {
    "ErrorKind": "roost_core.errors",
    "ExecutionError": "roost_core.errors",
    "RoostError": "roost_core.errors",
    "Event": "roost_core.events",
    "EventSink": "roost_core.events",
    "JsonLinesSink": "roost_core.events",
    "MemorySink": "roost_core.events",
    "TaskContext": "roost_core.handler",
    "TaskHandler": "roost_core.handler",
    "TaskLog": "roost_core.handler",
    "TaskPhase": "roost_core.handler",
    "Transition": "roost_core.handler",
    "EnginePlugins": "roost_core.plugins",
    "hookimpl": "roost_core.plugins",
    "BlobNotFoundError": "roost_core.storage",
    "BlobStore": "roost_core.storage",
    "Storage": "roost_core.storage",
    "StorageError": "roost_core.storage",
}

__all__ = [
    "BlobNotFoundError",
    "BlobStore",
    "EnginePlugins",
    "ErrorKind",
    "Event",
    "EventSink",
    "ExecutionError",
    "JsonLinesSink",
    "MemorySink",
    "RoostError",
    "Storage",
    "StorageError",
    "TaskContext",
    "TaskHandler",
    "TaskLog",
    "TaskPhase",
    "Transition",
    "hookimpl",
]


__getattr__ = lazy_exports(__name__, _EXPORTS)
