"""Dataframes of a local run kept in memory, so tasks in one process pass them without parquet round trips.

A task's dataframe output still gets a literal with the URI it belongs at, but the file is written only when
something needs it (a cached entry, a container task, a worker process); a downstream task in the same
process gets the frame itself, as its decoder hands it over (a copy, by default). This works for every data
frame kind whose encoder allows it (``keep_in_memory``), the built-in ones and plugins' alike.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any


class FrameMemo:
    """Frames by the URI they would be stored at, with the write that stores them when asked."""

    def __init__(self) -> None:
        self._frames: dict[str, tuple[Any, Callable[[], None] | None]] = {}
        self._lock = threading.Lock()

    def keep(self, uri: str, frame: Any, write: Callable[[], None]) -> None:
        """Remember ``frame`` as the data at ``uri``; ``write`` stores it there."""
        with self._lock:
            self._frames[uri] = (frame, write)

    def get(self, uri: str) -> Any | None:
        """The frame kept for ``uri``, if any (its reader copies it)."""
        with self._lock:
            found = self._frames.get(uri)
        return None if found is None else found[0]

    def pending(self, uri: str) -> bool:
        """Whether the frame for ``uri`` is not written yet."""
        found = self._frames.get(uri)
        return found is not None and found[1] is not None

    def flush(self, uris: Iterable[str] | None = None) -> None:
        """Write the frames for ``uris`` (all, by default) that are not written yet."""
        with self._lock:
            chosen = list(self._frames) if uris is None else [u for u in uris if u in self._frames]
            writes = []
            for uri in chosen:
                frame, write = self._frames[uri]
                if write is not None:
                    writes.append(write)
                    self._frames[uri] = (frame, None)
        for write in writes:
            write()
