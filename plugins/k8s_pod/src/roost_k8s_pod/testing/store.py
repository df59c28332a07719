"""The test server's object store: objects, resource versions, event history and watches.

One counter gives every change a resource version, as etcd's revision does for a real API server. Every
change is kept in a bounded history so a watch can resume from a resource version; a watch that asks for
one older than the history is told 410 Gone (:meth:`Store.compact` forces that in tests).
"""

from __future__ import annotations

import copy
import queue
import re
import threading
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "ApiError",
    "Event",
    "ResourceType",
    "Selector",
    "Store",
    "Watcher",
    "now_rfc3339",
]

HISTORY = 2000
"""Changes kept for watches to resume from."""


def now_rfc3339() -> str:
    """The current time as Kubernetes writes timestamps."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ApiError(Exception):
    """A request the API refuses: becomes a ``Status`` object with this code, reason and message."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = dict(details or {})

    def status(self) -> dict[str, Any]:
        """The ``Status`` object the API server returns."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


@dataclass(frozen=True, slots=True)
class ResourceType:
    """A kind the server serves: where it lives in the API and how its objects are validated."""

    group: str
    versions: tuple[str, ...]
    """Served versions, the preferred (storage) one first."""
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    status_subresource: bool = False
    core_definition: str = ""
    """The OpenAPI definition of a core type (``io.k8s.api.core.v1.Pod``)."""
    crd_schemas: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """A custom resource's ``openAPIV3Schema`` per version."""
    categories: tuple[str, ...] = ()

    @property
    def version(self) -> str:
        """The preferred version."""
        return self.versions[0]

    def api_version(self, version: str | None = None) -> str:
        """``v1`` or ``group/version``."""
        version = version or self.version
        return f"{self.group}/{version}" if self.group else version

    @property
    def key(self) -> tuple[str, str]:
        """(group, plural): identifies the type across versions."""
        return (self.group, self.plural)

    @property
    def qualified_kind(self) -> str:
        """``Pod`` for core types, ``SparkApplication.sparkoperator.k8s.io`` for others."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def qualified_plural(self) -> str:
        """``pods`` or ``sparkapplications.sparkoperator.k8s.io`` (how messages name the resource)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


class Selector:
    """A label selector (``a=b,c!=d,e in (f,g),h,!i``) or field selector (``metadata.name=x``)."""

    _SET = re.compile(r"^\s*(\S+?)\s+(in|notin)\s+\(([^)]*)\)\s*$")

    def __init__(self, text: str = "", *, fields: bool = False) -> None:
        self.text = text
        self._fields = fields
        self._terms: list[tuple[str, str, tuple[str, ...]]] = []
        for term in _split_terms(text):
            part = term.strip()
            if not part:
                continue
            match = self._SET.match(part)
            if match:
                values = tuple(v.strip() for v in match.group(3).split(",") if v.strip())
                self._terms.append((match.group(1), match.group(2), values))
            elif "!=" in part:
                key, value = part.split("!=", 1)
                self._terms.append((key.strip(), "!=", (value.strip(),)))
            elif "==" in part or "=" in part:
                key, value = re.split(r"==?", part, maxsplit=1)
                self._terms.append((key.strip(), "=", (value.strip(),)))
            elif part.startswith("!"):
                self._terms.append((part[1:].strip(), "!", ()))
            elif not fields and re.fullmatch(r"[A-Za-z0-9_./-]+", part):
                self._terms.append((part, "exists", ()))
            else:
                kind = "field" if fields else "label"
                raise ApiError(
                    400, "BadRequest", f"unable to parse requirement: invalid {kind} selector: {part!r}"
                )

    def matches(self, obj: Mapping[str, Any]) -> bool:
        """True if the object satisfies every term."""
        for key, op, values in self._terms:
            present, value = self._value(obj, key)
            if op == "=" and (not present or value != values[0]):
                return False
            if op == "!=" and present and value == values[0]:
                return False
            if op == "in" and (not present or value not in values):
                return False
            if op == "notin" and present and value in values:
                return False
            if op == "exists" and not present:
                return False
            if op == "!" and present:
                return False
        return True

    def _value(self, obj: Mapping[str, Any], key: str) -> tuple[bool, str]:
        if not self._fields:
            labels = (obj.get("metadata") or {}).get("labels") or {}
            return key in labels, str(labels.get(key, ""))
        current: Any = obj
        for part in key.split("."):
            if not isinstance(current, Mapping) or part not in current:
                return True, ""  # an unset field compares as the empty string
            current = current[part]
        return True, str(current)


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    terms, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    terms.append(current)
    return terms


@dataclass(frozen=True, slots=True)
class Event:
    """One change: its resource version, type (ADDED, MODIFIED, DELETED), and the object before and after."""

    rv: int
    type: str
    rtype: ResourceType
    obj: dict[str, Any]
    old: dict[str, Any] | None


_BOOKMARK = "BOOKMARK"
_CLOSED = "CLOSED"


class Watcher:
    """A watch's queue of events, filtered by namespace and selectors; read by one HTTP stream."""

    def __init__(
        self, store: Store, rtype: ResourceType, namespace: str | None, labels: Selector, fields: Selector
    ) -> None:
        self._store = store
        self.rtype = rtype
        self.namespace = namespace
        self.labels = labels
        self.fields = fields
        self.events: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()

    def _matches(self, obj: Mapping[str, Any] | None) -> bool:
        if obj is None:
            return False
        if self.namespace is not None and (obj.get("metadata") or {}).get("namespace") != self.namespace:
            return False
        return self.labels.matches(obj) and self.fields.matches(obj)

    def offer(self, event: Event) -> None:
        """Queue the event as this watch sees it (a change out of its selector is a DELETED)."""
        if event.rtype.key != self.rtype.key:
            return
        now, before = self._matches(event.obj), self._matches(event.old)
        if event.type == "MODIFIED" and now and not before:
            self.events.put(("ADDED", event.obj))
        elif event.type == "MODIFIED" and before and not now:
            self.events.put(("DELETED", event.obj))
        elif now or (event.type == "DELETED" and before):
            self.events.put((event.type, event.obj))

    def bookmark(self, rv: int) -> None:
        """Queue a bookmark carrying ``rv``."""
        self.events.put((_BOOKMARK, {"metadata": {"resourceVersion": str(rv)}}))

    def close(self) -> None:
        """End the stream."""
        self.events.put((_CLOSED, {}))

    def stop(self) -> None:
        """Unregister (the stream ended)."""
        self._store.unwatch(self)


class Store:
    """Objects by type, namespace and name, with a global resource version and a change history."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._rv = 1
        self._objects: dict[tuple[str, str], dict[tuple[str, str], dict[str, Any]]] = {}
        self._history: deque[Event] = deque(maxlen=HISTORY)
        self._compacted = 0
        self._watchers: set[Watcher] = set()
        self._listeners: list[Callable[[Event], None]] = []

    @property
    def resource_version(self) -> int:
        """The latest resource version."""
        with self.lock:
            return self._rv

    def add_listener(self, listener: Callable[[Event], None]) -> None:
        """Call ``listener`` with every change, under the store's lock (it must not block)."""
        self._listeners.append(listener)

    def get(self, rtype: ResourceType, namespace: str, name: str) -> dict[str, Any] | None:
        """A copy of one object, or None."""
        with self.lock:
            found = self._objects.get(rtype.key, {}).get((namespace, name))
            return copy.deepcopy(found) if found is not None else None

    def list_objects(
        self,
        rtype: ResourceType,
        namespace: str | None = None,
        labels: Selector | None = None,
        fields: Selector | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """Copies of the matching objects in key order, and the resource version they reflect."""
        with self.lock:
            items = []
            for (ns, _), obj in sorted(self._objects.get(rtype.key, {}).items()):
                if namespace is not None and ns != namespace:
                    continue
                if labels is not None and not labels.matches(obj):
                    continue
                if fields is not None and not fields.matches(obj):
                    continue
                items.append(copy.deepcopy(obj))
            return items, self._rv

    def put(self, rtype: ResourceType, obj: dict[str, Any], *, event: str) -> dict[str, Any]:
        """Store ``obj`` (ADDED or MODIFIED) under a new resource version; returns a copy of it."""
        metadata = obj["metadata"]
        key = (metadata.get("namespace", "") if rtype.namespaced else "", metadata["name"])
        with self.lock:
            bucket = self._objects.setdefault(rtype.key, {})
            old = bucket.get(key)
            self._rv += 1
            metadata["resourceVersion"] = str(self._rv)
            if event == "ADDED":
                metadata.setdefault("uid", str(uuid.uuid4()))
                metadata.setdefault("creationTimestamp", now_rfc3339())
            stored = copy.deepcopy(obj)
            bucket[key] = stored
            self._emit(
                Event(self._rv, event, rtype, copy.deepcopy(stored), copy.deepcopy(old) if old else None)
            )
            return copy.deepcopy(stored)

    def remove(self, rtype: ResourceType, namespace: str, name: str) -> dict[str, Any] | None:
        """Delete an object for good (a DELETED event); returns its last state, or None if absent."""
        key = (namespace if rtype.namespaced else "", name)
        with self.lock:
            old = self._objects.get(rtype.key, {}).pop(key, None)
            if old is None:
                return None
            self._rv += 1
            gone = copy.deepcopy(old)
            gone["metadata"]["resourceVersion"] = str(self._rv)
            self._emit(Event(self._rv, "DELETED", rtype, gone, copy.deepcopy(old)))
            return copy.deepcopy(gone)

    def _emit(self, event: Event) -> None:
        self._history.append(event)
        for watcher in list(self._watchers):
            watcher.offer(event)
        for listener in self._listeners:
            listener(event)

    def watch(
        self,
        rtype: ResourceType,
        namespace: str | None,
        labels: Selector,
        fields: Selector,
        since: int | None,
    ) -> Watcher:
        """Start a watch: from ``since`` (replaying history) or, when None, with ADDED for what exists.

        Raises 410 Gone (``Expired``) when ``since`` is older than the kept history.
        """
        watcher = Watcher(self, rtype, namespace, labels, fields)
        with self.lock:
            if since is None:
                items, _ = self.list_objects(rtype, namespace, labels, fields)
                for item in items:
                    watcher.events.put(("ADDED", item))
            else:
                oldest = self._history[0].rv if self._history else self._rv + 1
                if since < self._compacted or (since < oldest - 1 and since < self._rv):
                    raise ApiError(
                        410,
                        "Expired",
                        f"too old resource version: {since} ({max(oldest - 1, self._compacted)})",
                    )
                for event in self._history:
                    if event.rv > since:
                        watcher.offer(event)
            self._watchers.add(watcher)
        return watcher

    def unwatch(self, watcher: Watcher) -> None:
        """Stop delivering to a watcher."""
        with self.lock:
            self._watchers.discard(watcher)

    def close_watches(self) -> None:
        """End every open watch stream (clients see the stream end and must watch again)."""
        with self.lock:
            for watcher in list(self._watchers):
                watcher.close()
            self._watchers.clear()

    def compact(self) -> None:
        """Forget the change history: a watch resuming from an older resource version gets 410 Gone."""
        with self.lock:
            self._history.clear()
            self._compacted = self._rv
