"""Roost's own engine features, registered through the same hooks as any outside plugin."""

from __future__ import annotations

from roost_core.events.sinks import jsonl_sink, memory_sink
from roost_core.handlers.echo import EchoHandler
from roost_core.handlers.local_process import LocalProcessHandler
from roost_core.handlers.sleep import SleepHandler
from roost_core.plugins.hookspecs import RegisterHandler, RegisterSink, RegisterStore, hookimpl
from roost_core.storage.file import file_store
from roost_core.storage.memory import memory_store
from roost_core.storage.s3 import s3_store


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


@hookimpl
def roost_task_handlers(register: RegisterHandler) -> None:
    """The handlers that need no outside system: echo, sleep and local process."""
    register(EchoHandler(), task_types=["echo"])
    register(SleepHandler(), task_types=["sleep"])
    register(LocalProcessHandler(), task_types=["container", "python-task", "raw-container"])
