"""The publisher's thread: sends the outbox of execution events to their subscribers round after round (see
:mod:`roost_admin.services.publishing`). ``roost start`` runs one when ``events.subscribers`` names any; any
number may run against one database (a subscriber's cursor is claimed by one of them at a time)."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading

from roost_admin.services import Services

log = logging.getLogger(__name__)


class PublisherThread:
    """Runs :meth:`~roost_admin.services.publishing.Publisher.publish_due` every ``events.poll_interval``, and
    again at once after a round that sent something."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.owner = f"{socket.gethostname()}:{os.getpid()}:publisher-{secrets.token_hex(4)}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start publishing in a background thread."""
        self._thread = threading.Thread(target=self._run, name="roost-publisher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        interval = self.services.context.settings.events.poll_interval
        publisher = self.services.publisher
        try:
            while not self._stop.is_set():
                busy = False
                try:
                    busy = any(done.sent for done in publisher.publish_due(self.owner))
                except Exception:  # a round that failed (database away) is tried again
                    log.exception("publisher round failed; trying again in %.1f s", interval)
                if not busy:
                    self._stop.wait(interval)
        finally:
            publisher.close()

    def stop(self, grace: float = 5.0) -> None:
        """Stop after the current round."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(grace)
            self._thread = None
