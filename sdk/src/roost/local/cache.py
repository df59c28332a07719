"""The local task cache: Flyte-style cache entries kept in the user cache folder between local runs.

Entries are LiteralMaps on disk. Data they point to that lives in a run's temporary folder (files, data
frames) is copied into the cache folder first, so entries outlive the run that made them.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from pathlib import Path

from flyteidl.core import identifier_pb2, literals_pb2

from roost.local.relocate import relocate_literals
from roost.types.memo import FrameMemo
from roost_core.catalog import CachedOutputs, CacheKey, MemoryCatalog, Reservation


def cache_folder() -> Path:
    """``$ROOST_CACHE_DIR``, else ``$XDG_CACHE_HOME/roost``, else ``~/.cache/roost``."""
    explicit = os.environ.get("ROOST_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "roost"


class LocalCatalog:
    """A catalog on disk; reservations are kept in memory (one local run at a time shares them)."""

    def __init__(self, folder: Path, temporary_prefix: str, *, frames: FrameMemo | None = None) -> None:
        self.folder = folder / "catalog"
        self._temporary_prefix = temporary_prefix
        self._frames = frames
        self._reservations = MemoryCatalog()
        self._lock = threading.Lock()

    def _entry(self, key: CacheKey) -> Path:
        digest = hashlib.sha256(str(key).encode()).hexdigest()
        return self.folder / key.project / key.domain / digest[:2] / f"{digest}.pb"

    def get(self, key: CacheKey) -> CachedOutputs | None:
        """The cached outputs, if this key was stored before."""
        path = self._entry(key)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        outputs = literals_pb2.LiteralMap()
        outputs.ParseFromString(data)
        return CachedOutputs(outputs, identifier_pb2.TaskExecutionIdentifier())

    def put(
        self,
        key: CacheKey,
        outputs: literals_pb2.LiteralMap,
        source: identifier_pb2.TaskExecutionIdentifier,
        *,
        overwrite: bool = False,
    ) -> None:
        """Store the outputs, copying the run's temporary data they refer to into the cache folder."""
        path = self._entry(key)
        with self._lock:
            if path.exists() and not overwrite:
                return
            blobs = path.parent / f"{path.stem}.data"
            kept, _ = relocate_literals(outputs, self._temporary_prefix, blobs, frames=self._frames)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(kept.SerializeToString(deterministic=True))
            tmp.replace(path)

    def reserve(self, key: CacheKey, owner: str, ttl: float) -> Reservation:
        """Take the reservation for ``key`` (in this process)."""
        return self._reservations.reserve(key, owner, ttl)

    def release(self, key: CacheKey, owner: str) -> None:
        """Give the reservation up."""
        self._reservations.release(key, owner)


def clear_cache(folder: Path | None = None) -> int:
    """Remove every local cache entry; returns how many there were."""
    catalog = (folder or cache_folder()) / "catalog"
    if not catalog.exists():
        return 0
    count = sum(1 for _ in catalog.rglob("*.pb"))
    shutil.rmtree(catalog)
    return count
