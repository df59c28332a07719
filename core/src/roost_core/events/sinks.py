"""Event sinks: where recorded events go. In-memory and JSON-lines here; the admin adds its own."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from google.protobuf import json_format

from roost_core.events.event import Event


class EventSink(Protocol):
    """Receives events in batches, in the order they happened.

    ``send`` raises on failure; the recorder then retries the same batch with backoff. A sink may see an
    event again after a crash or a retry and should drop it by :attr:`Event.id`.
    """

    def send(self, events: Sequence[Event]) -> None:
        """Deliver a batch of events, or raise."""
        ...


class MemorySink:
    """Keeps every event in a list, dropping repeats by id. For tests and local runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: set[str] = set()
        self.events: list[Event] = []

    def send(self, events: Sequence[Event]) -> None:
        """Append the events not seen before."""
        with self._lock:
            for event in events:
                if event.id not in self._seen:
                    self._seen.add(event.id)
                    self.events.append(event)


class JsonLinesSink:
    """Appends each event as one JSON object per line to a file.

    Repeats are dropped by id, including ids already in the file when the sink is opened, so a restarted
    engine that re-sends its outbox does not duplicate lines.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._seen: set[str] = set()
        if self.path.exists():
            with self.path.open(encoding="utf-8") as lines:
                for line in lines:
                    if line.strip():
                        self._seen.add(json.loads(line)["id"])

    def send(self, events: Sequence[Event]) -> None:
        """Append the events not written before, then flush."""
        with self._lock:
            new = [e for e in events if e.id not in self._seen]
            if not new:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as out:
                for event in new:
                    out.write(json.dumps(_as_json(event), separators=(",", ":")) + "\n")
            self._seen.update(e.id for e in new)


def _as_json(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "kind": event.kind,
        "event": json_format.MessageToDict(event.message, preserving_proto_field_name=True),
    }


def memory_sink(config: Mapping[str, Any]) -> MemorySink:
    """Factory for the ``memory`` sink."""
    return MemorySink()


def jsonl_sink(config: Mapping[str, Any]) -> JsonLinesSink:
    """Factory for the ``jsonl`` sink; ``config["path"]`` is the file."""
    try:
        return JsonLinesSink(config["path"])
    except KeyError:
        raise ValueError("event sink 'jsonl' needs a 'path'") from None
