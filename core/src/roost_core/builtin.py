"""Roost's own engine features, registered through the same hooks as any outside plugin."""

from __future__ import annotations

from roost_core.events.sinks import jsonl_sink, memory_sink
from roost_core.plugins.hookspecs import RegisterSink, RegisterStore, hookimpl
from roost_core.storage.memory import memory_store


@hookimpl
def roost_event_sinks(register: RegisterSink) -> None:
    """The in-memory and JSON-lines sinks."""
    register("memory", memory_sink)
    register("jsonl", jsonl_sink)


@hookimpl
def roost_blob_stores(register: RegisterStore) -> None:
    """The built-in blob stores."""
    register("mem", memory_store)
