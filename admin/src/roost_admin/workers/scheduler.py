"""The scheduler's thread: fires due schedules through the scheduler service, round after round.

``roost start`` runs one inside the admin (unless ``scheduler.enabled`` is false) and ``roost scheduler`` runs
one alone against the same database and blob store; any number may run at once (claims and execution names keep
every fire time to one execution, see :mod:`roost_admin.services.scheduler`).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading

from roost_admin.services import Services

log = logging.getLogger(__name__)


def scheduler_identity() -> str:
    """This scheduler's name in its claims: host, process and a random part (two in one process differ)."""
    return f"{socket.gethostname()}:{os.getpid()}:scheduler-{secrets.token_hex(4)}"


class SchedulerThread:
    """Runs :meth:`~roost_admin.services.scheduler.Scheduler.fire_due` every ``scheduler.poll_interval``, and
    again at once after a round that fired something."""

    def __init__(self, services: Services, *, owner: str | None = None) -> None:
        self.services = services
        self.owner = owner or scheduler_identity()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start firing in a background thread."""
        self._thread = threading.Thread(target=self._run, name="roost-scheduler", daemon=True)
        self._thread.start()
        log.info("scheduler %s started", self.owner)

    def _run(self) -> None:
        interval = self.services.context.settings.scheduler.poll_interval
        while not self._stop.is_set():
            fired_any = False
            try:
                for fired in self.services.scheduler.fire_due(self.owner):
                    fired_any = True
                    log.info(
                        "schedule of %s fired for %s: execution %s%s",
                        fired.launch_plan,
                        fired.moment.isoformat(),
                        fired.name,
                        "" if fired.created else " (already there)",
                    )
            except Exception:  # a round that failed (database away) is tried again
                log.exception("scheduler round failed; trying again in %.1f s", interval)
            if not fired_any:
                # A round that fired may have left due schedules for the next (it takes a hundred at most).
                self._stop.wait(interval)

    def stop(self, grace: float = 5.0) -> None:
        """Stop after the current round (its claims are released as each schedule finishes)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(grace)
            self._thread = None
