"""Delivers an execution's outbox of events to every sink, retrying failures with backoff.

The engine appends events to the execution state's outbox and saves the state *before* delivering, so an
event is never lost: a sink that is down keeps its events in the outbox, and they go out in a later round
(or after a restart). Each sink has its own cursor into the outbox; events every sink has received are
dropped. Sinks may see an event twice after a crash and drop it by id.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from roost_core.engine.state import ExecutionState
from roost_core.events.sinks import EventSink

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _SinkHealth:
    failures: int = 0
    retry_at: float = 0.0
    last_error: str = ""


@dataclass(slots=True)
class EventRecorder:
    """Sends outboxes to named sinks. One recorder serves every execution of an engine."""

    sinks: Mapping[str, EventSink]
    retries: int = 3
    backoff: float = 0.05
    max_backoff: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    _health: dict[str, _SinkHealth] = field(default_factory=dict)

    def flush(self, state: ExecutionState) -> bool:
        """Deliver what each sink has not received yet; True when the outbox is empty afterwards.

        A sink that keeps failing is skipped until its backoff has passed, so a dead sink slows
        nothing down; its events stay in the outbox.
        """
        if not state.outbox:
            return True
        for name, sink in self.sinks.items():
            start = state.delivered.get(name, 0)
            if start >= len(state.outbox):
                continue
            health = self._health.setdefault(name, _SinkHealth())
            if health.retry_at > self.clock():
                continue
            if self._send(name, sink, state, start, health):
                state.delivered[name] = len(state.outbox)
        self._trim(state)
        return not state.outbox

    def _send(
        self, name: str, sink: EventSink, state: ExecutionState, start: int, health: _SinkHealth
    ) -> bool:
        batch = state.outbox[start:]
        wait = self.backoff
        for attempt in range(self.retries):
            try:
                sink.send(batch)
            except Exception as exc:  # a sink is outside code: any failure means "not delivered"
                health.last_error = f"{type(exc).__name__}: {exc}"
                if attempt + 1 < self.retries:
                    self.sleep(wait)
                    wait *= 2
                continue
            health.failures = 0
            health.retry_at = 0.0
            return True
        health.failures += 1
        delay = min(self.backoff * 2 ** (self.retries + health.failures), self.max_backoff)
        health.retry_at = self.clock() + delay
        log.warning(
            "event sink %r failed %d time(s) for execution %s (%s); %d event(s) kept, retrying in %.1fs",
            name,
            health.failures,
            state.key,
            health.last_error,
            len(batch),
            delay,
        )
        return False

    def _trim(self, state: ExecutionState) -> None:
        done = min((state.delivered.get(name, 0) for name in self.sinks), default=len(state.outbox))
        if done:
            del state.outbox[:done]
            for name in list(state.delivered):
                state.delivered[name] = max(0, state.delivered[name] - done)
        if not state.outbox:
            state.delivered.clear()

    def failing_sinks(self) -> dict[str, str]:
        """Sinks whose last delivery failed, with the error."""
        return {n: h.last_error for n, h in self._health.items() if h.failures}
