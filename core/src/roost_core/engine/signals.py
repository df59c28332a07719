"""Signals: the outside answers that approve and signal gate nodes wait for.

The admin fulfils this interface with its SignalService; :class:`MemorySignals` serves local runs and tests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from flyteidl.core import literals_pb2, types_pb2

from roost_core.errors import RoostError


class SignalUnavailableError(RoostError):
    """Raised by :meth:`SignalSource.ensure` when the signal can never arrive; fails the gate with the message."""


class SignalSource(Protocol):
    """Where gate nodes look for their signal's value."""

    def ensure(
        self, execution: str, signal_id: str, literal_type: types_pb2.LiteralType, on_set: Callable[[], None]
    ) -> None:
        """Declare that ``execution`` (``project/domain/name``) waits for ``signal_id``.

        Idempotent. ``on_set`` is called (from any thread) when a value arrives, to wake the execution.
        Raises :class:`SignalUnavailableError` when no value can ever arrive.
        """
        ...

    def get(self, execution: str, signal_id: str) -> literals_pb2.Literal | None:
        """The signal's value, or None while nobody has set it."""
        ...


class MemorySignals:
    """Signals kept in memory; :meth:`set` delivers a value and wakes the waiting execution."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, str], literals_pb2.Literal] = {}
        self._waiting: dict[tuple[str, str], tuple[types_pb2.LiteralType, Callable[[], None]]] = {}
        self._lock = threading.Lock()

    def ensure(
        self, execution: str, signal_id: str, literal_type: types_pb2.LiteralType, on_set: Callable[[], None]
    ) -> None:
        """Remember the waiter."""
        with self._lock:
            self._waiting[(execution, signal_id)] = (literal_type, on_set)

    def get(self, execution: str, signal_id: str) -> literals_pb2.Literal | None:
        """The value set for the signal, if any."""
        return self._values.get((execution, signal_id))

    def waiting(self) -> list[tuple[str, str]]:
        """(execution, signal id) of every declared signal without a value."""
        with self._lock:
            return sorted(k for k in self._waiting if k not in self._values)

    def set(self, execution: str, signal_id: str, value: literals_pb2.Literal) -> None:
        """Set a signal's value and wake the execution waiting for it."""
        with self._lock:
            self._values[(execution, signal_id)] = value
            waiter = self._waiting.get((execution, signal_id))
        if waiter is not None:
            waiter[1]()
