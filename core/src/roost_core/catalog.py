"""The task cache (Flyte's "catalog"): cache keys, the catalog interface, and an in-memory catalog.

A cache key follows Flyte's semantics: the task's project, domain and name, the cache version, a hash of the
task's interface, and a hash of its inputs minus the ignored ones. The task *version* is not part of the
key, so re-registering unchanged code keeps its cache. Literals that carry a ``hash`` (offloaded data
frames, files) are hashed by that, not by their URI.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from flyteidl.core import identifier_pb2, interface_pb2, literals_pb2

_SIGNATURE_HASH_LENGTH = 8


def _hash(message: literals_pb2.LiteralMap | interface_pb2.VariableMap) -> str:
    digest = hashlib.sha256(message.SerializeToString(deterministic=True)).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _hashable(literal: literals_pb2.Literal) -> literals_pb2.Literal:
    """The literal as it takes part in the hash: a ``hash`` field stands for the whole value."""
    if literal.hash:
        return literals_pb2.Literal(hash=literal.hash)
    kind = literal.WhichOneof("value")
    if kind == "collection":
        items = [_hashable(item) for item in literal.collection.literals]
        return literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=items))
    if kind == "map":
        entries = {key: _hashable(item) for key, item in literal.map.literals.items()}
        return literals_pb2.Literal(map=literals_pb2.LiteralMap(literals=entries))
    return literal


def hash_inputs(inputs: literals_pb2.LiteralMap, ignored: Iterable[str] = ()) -> str:
    """Hash of a task's inputs for its cache key, leaving out ``ignored`` input names."""
    skip = set(ignored)
    kept = {name: _hashable(value) for name, value in inputs.literals.items() if name not in skip}
    return _hash(literals_pb2.LiteralMap(literals=kept))


def hash_signature(interface: interface_pb2.TypedInterface) -> str:
    """Short hash of a task's input and output types: changing the interface invalidates the cache."""
    inputs = _hash(interface.inputs)[:_SIGNATURE_HASH_LENGTH]
    outputs = _hash(interface.outputs)[:_SIGNATURE_HASH_LENGTH]
    return f"{inputs}-{outputs}"


@dataclass(frozen=True, slots=True)
class CacheKey:
    """Identifies one cached result of one task."""

    project: str
    domain: str
    task_name: str
    cache_version: str
    signature: str
    inputs_hash: str

    @classmethod
    def for_task(
        cls,
        task_id: identifier_pb2.Identifier,
        interface: interface_pb2.TypedInterface,
        cache_version: str,
        inputs: literals_pb2.LiteralMap,
        ignored_inputs: Iterable[str] = (),
    ) -> CacheKey:
        """The key of ``task_id`` run on ``inputs``."""
        return cls(
            task_id.project,
            task_id.domain,
            task_id.name,
            cache_version.strip(),
            hash_signature(interface),
            hash_inputs(inputs, ignored_inputs),
        )

    @property
    def dataset(self) -> str:
        """The cache's dataset: one per task name, cache version and interface."""
        return f"flyte_task-{self.task_name}/{self.cache_version}-{self.signature}"

    @property
    def tag(self) -> str:
        """The entry within the dataset: one per distinct input."""
        return f"flyte_cached-{self.inputs_hash}"

    def __str__(self) -> str:
        return f"{self.project}/{self.domain}/{self.dataset}/{self.tag}"


@dataclass(frozen=True, slots=True)
class CachedOutputs:
    """A cache hit: the outputs, and the task attempt that produced them."""

    outputs: literals_pb2.LiteralMap
    source: identifier_pb2.TaskExecutionIdentifier


@dataclass(frozen=True, slots=True)
class Reservation:
    """The answer to a reservation request for a ``cache_serializable`` task."""

    owner: str
    """Who holds the reservation now."""
    expires_at: float

    def held_by(self, owner: str) -> bool:
        """Whether ``owner`` holds it."""
        return self.owner == owner


class Catalog(Protocol):
    """Stores task outputs by cache key, and serializes concurrent runs of the same key."""

    def get(self, key: CacheKey) -> CachedOutputs | None:
        """The cached outputs for the key, if any."""
        ...

    def put(
        self,
        key: CacheKey,
        outputs: literals_pb2.LiteralMap,
        source: identifier_pb2.TaskExecutionIdentifier,
        *,
        overwrite: bool = False,
    ) -> None:
        """Store outputs; an existing entry is kept unless ``overwrite``."""
        ...

    def reserve(self, key: CacheKey, owner: str, ttl: float) -> Reservation:
        """Take (or extend) the reservation for ``key`` unless someone else holds a live one."""
        ...

    def release(self, key: CacheKey, owner: str) -> None:
        """Give up ``owner``'s reservation, if it holds one."""
        ...


class MemoryCatalog:
    """A catalog in a dict, shared by every execution of one process."""

    def __init__(self) -> None:
        self._entries: dict[CacheKey, CachedOutputs] = {}
        self._reservations: dict[CacheKey, Reservation] = {}
        self._lock = threading.Lock()

    def get(self, key: CacheKey) -> CachedOutputs | None:
        """The cached outputs for the key, if any."""
        return self._entries.get(key)

    def put(
        self,
        key: CacheKey,
        outputs: literals_pb2.LiteralMap,
        source: identifier_pb2.TaskExecutionIdentifier,
        *,
        overwrite: bool = False,
    ) -> None:
        """Store a copy of the outputs."""
        with self._lock:
            if overwrite or key not in self._entries:
                kept_outputs = literals_pb2.LiteralMap()
                kept_outputs.CopyFrom(outputs)
                kept_source = identifier_pb2.TaskExecutionIdentifier()
                kept_source.CopyFrom(source)
                self._entries[key] = CachedOutputs(kept_outputs, kept_source)

    def reserve(self, key: CacheKey, owner: str, ttl: float) -> Reservation:
        """Grant the reservation to ``owner`` if it is free, expired, or already theirs."""
        now = time.time()
        with self._lock:
            current = self._reservations.get(key)
            if current is None or current.expires_at <= now or current.owner == owner:
                current = Reservation(owner, now + ttl)
                self._reservations[key] = current
            return current

    def release(self, key: CacheKey, owner: str) -> None:
        """Drop ``owner``'s reservation."""
        with self._lock:
            current = self._reservations.get(key)
            if current is not None and current.owner == owner:
                del self._reservations[key]
