"""Showing a local run's progress from the engine's events: a live table on a terminal, log lines otherwise."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Any

from roost_core.engine.graph import is_start_or_end
from roost_core.events import Event
from roost_core.events.event import EventSummary

log = logging.getLogger("roost.run")

_DONE = {"SUCCEEDED", "FAILED", "SKIPPED", "TIMED_OUT", "ABORTED", "RECOVERED"}
_STYLE = {
    "SUCCEEDED": "green",
    "FAILED": "red",
    "TIMED_OUT": "red",
    "ABORTED": "yellow",
    "SKIPPED": "dim",
    "RUNNING": "cyan",
    "DYNAMIC_RUNNING": "cyan",
    "QUEUED": "white",
    "FAILING": "red",
}


@dataclass
class _Row:
    name: str
    phase: str
    started: float
    ended: float | None = None
    attempt: int = 0


class ProgressSink:
    """An event sink that renders node phases. ``live=True`` draws a rich table; otherwise it logs a line per
    node that finishes (and per node that starts, at debug level)."""

    def __init__(self, title: str, *, live: bool, stream: IO[str] | None = None) -> None:
        self.title = title
        self._rows: dict[str, _Row] = {}
        self._lock = threading.Lock()
        self._live: Any = None
        if live:
            from rich.console import Console
            from rich.live import Live

            self._live = Live(
                self._render(), console=Console(file=stream), refresh_per_second=8, transient=False
            )
            self._live.start()

    def send(self, events: Sequence[Event]) -> None:
        """Record node and task changes, then redraw or log."""
        self.record([(event.kind, event.summary) for event in events])

    def record(self, changes: Sequence[tuple[str, EventSummary]]) -> None:
        """Show (kind, summary) changes: what ``send`` does with events, for callers that have no events
        (following a remote execution)."""
        with self._lock:
            for kind, summary in changes:
                if kind == "node":
                    self._node(summary)
                elif kind == "task":
                    row = self._rows.get(summary.subject)
                    if row is not None:
                        row.attempt = summary.attempt
            if self._live is not None:
                self._live.update(self._render())

    def _node(self, summary: EventSummary) -> None:
        uid, phase, at = summary.subject, summary.phase, summary.occurred_at
        if is_start_or_end(uid):
            return
        row = self._rows.get(uid)
        if row is None:
            row = self._rows[uid] = _Row(summary.name or uid, phase, at)
        row.phase = phase
        if phase in _DONE:
            row.ended = at
            if self._live is None:
                took = f" in {row.ended - row.started:.2f}s" if phase != "SKIPPED" else ""
                level = logging.WARNING if phase in ("FAILED", "TIMED_OUT") else logging.INFO
                log.log(level, "%s %s (%s)%s", uid, phase.lower(), row.name, took)
        elif self._live is None:
            log.debug("%s %s (%s)", uid, phase.lower(), row.name)

    def _render(self) -> Any:
        from rich.table import Table

        table = Table(title=self.title, title_justify="left", expand=False)
        for column in ("node", "name", "phase", "attempt", "time"):
            table.add_column(column)
        now = time.time()
        for uid, row in self._rows.items():
            took = (row.ended or now) - row.started
            style = _STYLE.get(row.phase, "")
            table.add_row(
                uid,
                row.name,
                f"[{style}]{row.phase.lower()}[/]" if style else row.phase.lower(),
                str(row.attempt),
                f"{took:.1f}s",
            )
        return table

    def close(self) -> None:
        """Stop drawing."""
        if self._live is not None:
            self._live.update(self._render())
            self._live.stop()
