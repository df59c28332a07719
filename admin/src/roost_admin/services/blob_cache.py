"""The most recently used immutable blobs (a registered entity's closure, an execution's spec), up to a byte
budget: a blob at such a URI never changes once its row is committed, so it is read from the store once."""

from __future__ import annotations

import threading
from collections.abc import Callable

from cachetools import LRUCache

CACHE_BYTES = 64 * 1024 * 1024
"""How many bytes of blobs one admin keeps in memory."""


class BlobCache:
    """A thread-safe byte-budget LRU of blobs by URI."""

    def __init__(self, budget: int = CACHE_BYTES) -> None:
        self._budget = budget
        self._blobs: LRUCache[str, bytes] = LRUCache(maxsize=budget, getsizeof=len)
        self._lock = threading.Lock()

    def get(self, uri: str, read: Callable[[str], bytes]) -> bytes:
        """The blob at ``uri``, read with ``read`` (and kept) when it is not in the cache."""
        with self._lock:
            data = self._blobs.get(uri)
        if data is None:
            data = read(uri)
            self.put(uri, data)
        return data

    def holds(self, uri: str) -> bool:
        """Whether the blob at ``uri`` is kept (it was read from or written to the store)."""
        with self._lock:
            return uri in self._blobs

    def put(self, uri: str, data: bytes) -> None:
        """Keep ``data`` as the blob at ``uri`` (a blob larger than the whole budget is not kept)."""
        if len(data) > self._budget:
            return
        with self._lock:
            self._blobs[uri] = data
