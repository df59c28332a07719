"""Drive a handler round by round as the engine does, without an engine; wait for things (a process's end among
them) with a hang guard."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from roost_core.handler import TaskContext, TaskHandler, Transition

__all__ = ["WAIT_SECONDS", "Driver", "process_gone", "wait_until"]

WAIT_SECONDS = 60.0
"""How long a test waits for something before it fails: a hang guard, never a timing assertion."""

T = TypeVar("T")


class Driver:
    """Calls ``handle`` round by round as the engine would, keeping the plugin state between rounds.

    The state goes through JSON between rounds, as the engine persists it, so a handler that returns
    something the engine could not save fails here too. ``woken`` is set by the handler's ``ctx.notify``.
    Used as a context manager, it finalizes the attempt on leaving.
    """

    def __init__(self, handler: TaskHandler, ctx: TaskContext, *, wait: float = WAIT_SECONDS) -> None:
        self.handler = handler
        self.woken = threading.Event()
        self.ctx = dataclasses.replace(ctx, notify=self.woken.set)
        self.transitions: list[Transition] = []
        self.wait = wait

    def round(self) -> Transition:
        """One call of ``handle``."""
        transition = self.handler.handle(self.ctx)
        if transition.state is not None:
            state = json.loads(json.dumps(dict(transition.state)))
            self.ctx = dataclasses.replace(self.ctx, state=state)
        self.transitions.append(transition)
        return transition

    def until(self, done: Callable[[Transition], bool], what: str) -> Transition:
        """Rounds until ``done`` holds for a transition (or it is terminal), each after a wake-up.

        A wake-up is the handler's ``ctx.notify`` or the ``wake_after`` it asked for, whichever comes
        first; a round that asked for neither fails after ``wait`` seconds.
        """
        while True:
            self.woken.clear()
            transition = self.round()
            if done(transition) or transition.phase.is_terminal:
                return transition
            wait = self.wait if transition.wake_after is None else min(self.wait, transition.wake_after)
            if not self.woken.wait(wait) and transition.wake_after is None:
                raise AssertionError(
                    f"no wake-up within {self.wait} s while waiting for {what}; last: {transition}"
                )

    def until_done(self) -> Transition:
        """Rounds until a terminal phase."""
        return self.until(lambda t: t.phase.is_terminal, "a terminal phase")

    def abort(self) -> None:
        """Abort, then finalize, as the engine does once the aborted state is saved."""
        self.handler.abort(self.ctx)
        self.finalize()

    def finalize(self) -> None:
        """Finalize with the last state and ``exclusive`` unset, as the engine does after a save."""
        self.handler.finalize(dataclasses.replace(self.ctx, exclusive=False))

    def __enter__(self) -> Driver:
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Finalize on leaving the block, as the engine does once the attempt ended (``finalize`` is
        idempotent), so that a test leaves nothing behind in the system's temporary folder."""
        self.finalize()


def wait_until(condition: Callable[[], T], what: str, *, timeout: float = WAIT_SECONDS) -> T:
    """Poll ``condition`` until it returns something truthy, and return that; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def process_gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (absent, or a zombie waiting to be reaped): what a test of a handler that
    runs processes waits for after an abort, with :func:`wait_until`."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):  # the second while it is being reaped
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"
