"""The notifier's thread: delivers the outbox of notifications round after round (see
:mod:`roost_admin.services.notifications`). ``roost start`` runs one when webhooks are configured; any number
may run against one database (claims keep each delivery attempt to one of them)."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading

from roost_admin.services import Services

log = logging.getLogger(__name__)


class NotifierThread:
    """Runs :meth:`~roost_admin.services.notifications.Notifier.deliver_due` every
    ``notifications.poll_interval``, and again at once after a round that delivered something."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.owner = f"{socket.gethostname()}:{os.getpid()}:notifier-{secrets.token_hex(4)}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start delivering in a background thread."""
        self._thread = threading.Thread(target=self._run, name="roost-notifier", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        interval = self.services.context.settings.notifications.poll_interval
        while not self._stop.is_set():
            busy = False
            try:
                busy = bool(self.services.notifier.deliver_due(self.owner))
            except Exception:  # a round that failed (database away) is tried again
                log.exception("notifier round failed; trying again in %.1f s", interval)
            if not busy:
                self._stop.wait(interval)

    def stop(self, grace: float = 5.0) -> None:
        """Stop after the current round (a delivery in flight finishes or times out first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(grace)
            self._thread = None
