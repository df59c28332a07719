"""What every service works over, built once when the admin starts and never changed: the database, the blob
store (with its cache of immutable blobs), the settings, the clock, the engine plugins, and the wake-up signal
that tells engine workers there is work."""

from __future__ import annotations

import datetime
import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from roost_admin.config import Settings
from roost_admin.db.base import Database, utcnow
from roost_admin.notifiers import AdminPlugins, Channel
from roost_admin.services.blob_cache import BlobCache
from roost_admin.services.target_cache import TargetCache
from roost_core.engine import Engine
from roost_core.plugins import EnginePlugins
from roost_core.storage import Storage


class Wakeups:
    """Tells whoever listens (this process's engine workers) that the database holds new work for them: a new
    execution, a termination, a signal set, a child that ended. Services announce after they commit; workers in
    other processes find the same work at their next poll."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def listen(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` at every announcement from now on."""
        with self._lock:
            self._listeners.append(listener)

    def forget(self, listener: Callable[[], None]) -> None:
        """Stop calling ``listener``."""
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def announce(self) -> None:
        """There is new work in the database."""
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener()


ExecutionKey = tuple[str, str, str]
"""(project, domain, name) of a workflow execution."""


class Recorded:
    """Tells whoever listens in this process (the HTTP API's live streams) which executions just had events
    recorded, after the transaction that recorded them committed."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[frozenset[ExecutionKey]], None]] = []
        self._lock = threading.Lock()

    def listen(self, listener: Callable[[frozenset[ExecutionKey]], None]) -> None:
        """Call ``listener`` with the executions of every later announcement."""
        with self._lock:
            self._listeners.append(listener)

    def forget(self, listener: Callable[[frozenset[ExecutionKey]], None]) -> None:
        """Stop calling ``listener``."""
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def announce(self, executions: frozenset[ExecutionKey]) -> None:
        """Events of ``executions`` were recorded (nothing is announced for an empty set)."""
        if not executions:
            return
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(executions)


@dataclass(frozen=True)
class ServiceContext:
    """The parts services use, explicit and immutable (see the module docstring)."""

    settings: Settings
    db: Database
    storage: Storage
    plugins: EnginePlugins = field(default_factory=EnginePlugins)
    blobs: BlobCache = field(default_factory=BlobCache)
    """Immutable blobs (registered entities, execution specs) recently read or written."""
    targets: TargetCache = field(default_factory=TargetCache)
    """What launching each recently launched registered version runs (launch plans and tasks never change)."""
    wakeups: Wakeups = field(default_factory=Wakeups)
    recorded: Recorded = field(default_factory=Recorded)
    """Which executions just had events recorded (or their phase changed by a request)."""
    clock: Callable[[], datetime.datetime] = utcnow
    """Now, as a timezone-aware UTC datetime (what the database columns hold)."""
    notifiers: AdminPlugins = field(default_factory=AdminPlugins)
    """The notification channels, built-in and from plugins."""

    @functools.cached_property
    def queuing_engine(self) -> Engine:
        """The engine that builds new executions' first states (checking their inputs) and writes their first
        blobs; the state goes in with the execution's row. Built once: building one checks the handler
        settings."""
        return Engine(self.storage, plugins=self.plugins)

    def channels(self) -> dict[str, Channel]:
        """The notification channels in use, built from the settings (once)."""
        return self.notifiers.channels(self.settings.notifications)
