"""Informers: a watched cache of one kind's objects that wakes the attempts owning them.

An informer lists the objects (with the handler's label selector), then watches from the list's
resource version with bookmarks, so a reconnect resumes where it was. When the server says the resource
version is too old (410 Gone) it lists again; every ``resync_interval`` it lists again anyway, catching
anything a watch missed. Each change to an object calls the ``notify`` of the attempt subscribed to it,
so the owning execution is evaluated at once instead of at its next poll. A deleted object stays in the
cache as a tombstone (with its last state) while an attempt is subscribed to it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from roost_k8s_pod.kube import KubeApiError, KubeClient, KubeUnavailableError, ResourceKind, watch_events

__all__ = ["CachedObject", "Informer", "Informers"]

log = logging.getLogger(__name__)

_ERROR_PAUSE = (0.2, 10.0)
"""First and longest pause after a failed list or watch (seconds); doubles in between."""

Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class CachedObject:
    """An object as last seen, and whether it has been deleted since."""

    obj: Mapping[str, Any]
    deleted: bool = False


class Informer:
    """List + watch of one kind in one namespace (or all), on a daemon thread; see the module docstring."""

    def __init__(
        self,
        client: KubeClient,
        kind: ResourceKind,
        namespace: str | None,
        *,
        label_selector: str,
        resync_interval: float,
        watch_timeout: float,
        name: str,
    ) -> None:
        self._client = client
        self._kind = kind
        self._namespace = namespace
        self._selector = label_selector
        self._resync = resync_interval
        self._watch_timeout = watch_timeout
        self._lock = threading.Lock()
        self._cache: dict[Key, CachedObject] = {}
        self._subscribers: dict[Key, Callable[[], None]] = {}
        self._stop = threading.Event()
        self._response: Any = None
        self.synced = threading.Event()
        """Set once the first list has filled the cache."""
        self.lists = 0
        """How many times the informer listed (the first time, 410s and resyncs), for tests and metrics."""
        self._thread = threading.Thread(target=self._run, name=f"roost-informer-{name}", daemon=True)
        self._thread.start()

    def get(self, namespace: str, name: str) -> CachedObject | None:
        """The cached object, a tombstone, or None if the informer has not seen it."""
        with self._lock:
            return self._cache.get((namespace, name))

    def put(self, obj: Mapping[str, Any]) -> None:
        """Record an object fetched directly (create or get) unless the cache already has a newer one."""
        key = _key(obj)
        with self._lock:
            cached = self._cache.get(key)
            if cached is None or _rv(cached.obj) < _rv(obj):
                self._cache[key] = CachedObject(obj)

    def subscribe(self, namespace: str, name: str, notify: Callable[[], None]) -> None:
        """Call ``notify`` whenever the object changes (replacing an earlier subscriber's)."""
        with self._lock:
            self._subscribers[(namespace, name)] = notify

    def unsubscribe(self, namespace: str, name: str) -> None:
        """Stop notifying for the object and drop its tombstone."""
        with self._lock:
            self._subscribers.pop((namespace, name), None)
            cached = self._cache.get((namespace, name))
            if cached is not None and cached.deleted:
                del self._cache[(namespace, name)]

    def close(self) -> None:
        """Stop the thread (a watch in progress is cut)."""
        self._stop.set()
        response = self._response
        if response is not None:
            shutdown = getattr(response, "shutdown", None)
            try:
                if shutdown is not None:
                    shutdown()
                response.close()
            except Exception:  # cutting a socket another thread reads can fail harmlessly
                log.debug("closing the watch of %s failed", self._kind.plural, exc_info=True)
        self._thread.join(5)

    # the loop

    def _run(self) -> None:
        resource_version = ""
        listed_at = 0.0
        pause = _ERROR_PAUSE[0]
        while not self._stop.is_set():
            try:
                if not resource_version or time.monotonic() - listed_at >= self._resync:
                    resource_version = self._relist()
                    listed_at = time.monotonic()
                remaining = self._resync - (time.monotonic() - listed_at)
                timeout = max(1, int(min(self._watch_timeout, remaining)))
                resource_version = self._watch(resource_version, timeout)
                pause = _ERROR_PAUSE[0]
            except KubeApiError as exc:
                if exc.status == 410:
                    resource_version = ""
                    continue
                pause = self._failed(exc, pause)
            except (KubeUnavailableError, OSError, ValueError) as exc:
                pause = self._failed(exc, pause)
            except Exception as exc:  # urllib3 protocol errors while streaming, among others
                pause = self._failed(exc, pause)

    def _failed(self, exc: Exception, pause: float) -> float:
        if not self._stop.is_set():
            log.info(
                "informer for %s in %s: %s; retrying in %.1fs", self._kind.plural, self._namespace, exc, pause
            )
            self._stop.wait(pause)
        return min(pause * 2, _ERROR_PAUSE[1])

    def _relist(self) -> str:
        items, resource_version = self._client.list_objects(
            self._kind, self._namespace, label_selector=self._selector
        )
        self.lists += 1
        fresh = {_key(item): item for item in items}
        changed: list[Callable[[], None]] = []
        listed_at = _rv({"metadata": {"resourceVersion": resource_version}})
        with self._lock:
            for key, cached in list(self._cache.items()):
                if key not in fresh and _rv(cached.obj) > listed_at:
                    continue  # put() there after the list was taken: the watch will report it
                if key not in fresh and not cached.deleted:
                    self._cache[key] = CachedObject(cached.obj, deleted=True)
                    self._notify_later(key, changed)
                if key not in fresh and key not in self._subscribers:
                    del self._cache[key]
            for key, item in fresh.items():
                known = self._cache.get(key)
                if known is None or known.deleted or _rv(known.obj) != _rv(item):
                    self._cache[key] = CachedObject(item)
                    self._notify_later(key, changed)
        self.synced.set()
        _call_all(changed)
        return resource_version

    def _watch(self, resource_version: str, timeout: int) -> str:
        response = self._client.watch(
            self._kind,
            self._namespace,
            resource_version=resource_version,
            label_selector=self._selector,
            timeout_seconds=timeout,
        )
        self._response = response
        try:
            if self._stop.is_set():
                return resource_version
            for event in watch_events(response):
                resource_version = self._apply(event, resource_version)
                if self._stop.is_set():
                    break
        finally:
            self._response = None
            response.release_conn()
        return resource_version

    def _apply(self, event: Mapping[str, Any], resource_version: str) -> str:
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            raise KubeApiError(
                int(obj.get("code") or 500), str(obj.get("reason", "")), str(obj.get("message", ""))
            )
        new_version = str((obj.get("metadata") or {}).get("resourceVersion") or resource_version)
        if kind == "BOOKMARK":
            return new_version
        key = _key(obj)
        changed: list[Callable[[], None]] = []
        with self._lock:
            if kind == "DELETED":
                if key in self._subscribers:
                    self._cache[key] = CachedObject(obj, deleted=True)
                else:
                    self._cache.pop(key, None)
                self._notify_later(key, changed)
            else:
                cached = self._cache.get(key)
                if cached is None or cached.deleted or _rv(cached.obj) < _rv(obj):
                    self._cache[key] = CachedObject(obj)
                    self._notify_later(key, changed)
        _call_all(changed)
        return new_version

    def _notify_later(self, key: Key, changed: list[Callable[[], None]]) -> None:
        notify = self._subscribers.get(key)
        if notify is not None:
            changed.append(notify)


class Informers:
    """The informers of one handler, one per (cluster, kind, namespace or all), started on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._informers: dict[tuple[str, ResourceKind, str | None], Informer] = {}
        self._closed = False

    def get(
        self,
        cluster: str,
        client: KubeClient,
        kind: ResourceKind,
        namespace: str | None,
        *,
        label_selector: str,
        resync_interval: float,
        watch_timeout: float,
    ) -> Informer:
        """The informer for ``kind`` in ``namespace`` of ``cluster``, started if it was not."""
        key = (cluster, kind, namespace)
        with self._lock:
            if self._closed:
                raise RuntimeError("the handler's informers are closed")
            informer = self._informers.get(key)
            if informer is None:
                informer = Informer(
                    client,
                    kind,
                    namespace,
                    label_selector=label_selector,
                    resync_interval=resync_interval,
                    watch_timeout=watch_timeout,
                    name=f"{cluster}-{kind.plural}-{namespace or 'all'}",
                )
                self._informers[key] = informer
            return informer

    def all(self) -> list[Informer]:
        """Every running informer."""
        with self._lock:
            return list(self._informers.values())

    def close(self) -> None:
        """Stop every informer."""
        with self._lock:
            self._closed = True
            informers, self._informers = list(self._informers.values()), {}
        for informer in informers:
            informer.close()


def _key(obj: Mapping[str, Any]) -> Key:
    metadata = obj.get("metadata") or {}
    return (str(metadata.get("namespace", "")), str(metadata.get("name", "")))


def _rv(obj: Mapping[str, Any]) -> int:
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


def _call_all(callbacks: list[Callable[[], None]]) -> None:
    for notify in callbacks:
        try:
            notify()
        except Exception:  # a broken callback must not stop the informer
            log.exception("an informer's notify callback failed")
