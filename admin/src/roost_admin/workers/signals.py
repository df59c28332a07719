"""Gate nodes in the admin: the signals they wait for live in the ``signals`` table, behind the signals
service (:class:`roost_admin.services.signals.Signals`).

A gate declares its signal (GetOrCreateSignal's semantics) and reads its value each round. SetSignal stores the
value and wakes the execution through the database, so the gate resumes in whichever process holds the
execution; the ``on_set`` callback the engine passes is therefore not kept.
"""

from __future__ import annotations

from collections.abc import Callable

from flyteidl.core import literals_pb2, types_pb2

from roost_admin.services.signals import Signals


class AdminSignals:
    """The engine's :class:`~roost_core.engine.SignalSource`, backed by the signals service."""

    def __init__(self, signals: Signals) -> None:
        self._signals = signals

    def ensure(
        self, execution: str, signal_id: str, literal_type: types_pb2.LiteralType, on_set: Callable[[], None]
    ) -> None:
        """Create the signal the gate waits for (idempotent)."""
        self._signals.declare(execution, signal_id, literal_type)

    def get(self, execution: str, signal_id: str) -> literals_pb2.Literal | None:
        """The signal's value, once someone set it."""
        return self._signals.value(execution, signal_id)
