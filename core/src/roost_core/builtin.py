"""Roost's own engine features, registered through the same hooks as any outside plugin."""

from __future__ import annotations

from typing import TYPE_CHECKING

from roost_core.events.sinks import jsonl_sink, memory_sink
from roost_core.handler import TaskHandler
from roost_core.plugins.hookspecs import RegisterHandler, RegisterSink, RegisterStore, hookimpl
from roost_core.storage.file import file_store
from roost_core.storage.memory import memory_store
from roost_core.storage.s3 import s3_store

if TYPE_CHECKING:
    from roost_core.handlers.local_process import LocalProcessSettings


@hookimpl
def roost_event_sinks(register: RegisterSink) -> None:
    """The in-memory and JSON-lines sinks."""
    register("memory", memory_sink)
    register("jsonl", jsonl_sink)


@hookimpl
def roost_blob_stores(register: RegisterStore) -> None:
    """The built-in blob stores."""
    register("mem", memory_store)
    register("file", file_store)
    register("s3", s3_store)


# The factories import their handler on first use, and local-process's settings class is named, not
# imported: an engine that never builds these handlers (a local run of Python tasks) never imports them.


def _echo() -> TaskHandler:
    from roost_core.handlers.echo import EchoHandler

    return EchoHandler()


def _sleep() -> TaskHandler:
    from roost_core.handlers.sleep import SleepHandler

    return SleepHandler()


def _local_process(settings: LocalProcessSettings) -> TaskHandler:
    from roost_core.handlers.local_process import LocalProcessHandler

    return LocalProcessHandler(settings)


@hookimpl
def roost_task_handlers(register: RegisterHandler) -> None:
    """The handlers that need no outside system, each the default for its task types."""
    register("echo", _echo, task_types=["echo"], default=True)
    register("sleep", _sleep, task_types=["sleep"], default=True)
    register(
        "local-process",
        _local_process,
        task_types=["container", "python-task", "raw-container"],
        default=True,
        settings="roost_core.handlers.local_process:LocalProcessSettings",
    )
