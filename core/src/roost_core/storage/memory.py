"""``mem://`` blobs kept in a dict: for in-process runs, tests and benchmarks. Lost when the process ends."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

from roost_core.storage.base import BlobNotFoundError, StorageError


class MemoryStore:
    """A thread-safe in-memory blob store for ``mem://`` URIs."""

    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def read(self, uri: str) -> bytes:
        """The blob's bytes."""
        try:
            return self._blobs[uri]
        except KeyError:
            raise BlobNotFoundError(f"no blob at {uri!r}") from None

    def write(self, uri: str, data: bytes) -> None:
        """Create or replace the blob."""
        with self._lock:
            self._blobs[uri] = bytes(data)

    def exists(self, uri: str) -> bool:
        """Whether a blob exists at the URI."""
        return uri in self._blobs

    def list(self, prefix: str) -> Iterator[str]:
        """URIs under ``prefix``, in lexical order."""
        base = prefix.rstrip("/") + "/"
        with self._lock:
            keys = sorted(k for k in self._blobs if k.startswith(base))
        return iter(keys)

    def delete(self, uri: str) -> None:
        """Remove the blob, if present."""
        with self._lock:
            self._blobs.pop(uri, None)

    def signed_url(
        self,
        uri: str,
        *,
        method: str = "GET",
        expires_in: timedelta = timedelta(hours=1),
        content_md5: str | None = None,
    ) -> str:
        """In-memory blobs cannot be reached from outside the process."""
        raise StorageError(f"cannot sign {uri!r}: mem:// blobs live only inside this process")


def memory_store(config: Mapping[str, Any]) -> MemoryStore:
    """Factory for the ``mem`` scheme."""
    return MemoryStore()
