"""The identity engine workers claim executions under: the same after a restart on the same host and data
folder, never held by two live processes at once.

A worker pool takes the lowest free *slot* of its data folder: slot ``n`` is an exclusive ``flock`` on
``<data_dir>/workers/slot-<n>.lock``, held for the pool's lifetime and released by the kernel when the process
ends, however it ends (``kill -9`` included). The pool's identity is ``<host>:<data folder digest>:<n>``, and
its workers claim as ``<identity>/<worker>``. A process restarted on the same host and data folder gets the
same slot back (the lowest free one), so the executions its predecessor held are recognisably its own: it hands
them back at once (see :meth:`~roost_admin.workers.pool.WorkerPool.start`) instead of waiting out the
predecessor's leases. Holding the slot's lock proves that the predecessor is dead, so nothing else runs those
executions; state saves are fenced by the claim in any case.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import socket
from pathlib import Path

from roost_core.errors import RoostError

MAX_SLOTS = 64
"""Worker pools (processes) that may share one data folder on one host."""


class WorkerIdentity:
    """A held slot of a data folder and the identity it gives; :meth:`release` (or the process's end) frees it."""

    def __init__(self, name: str, lock_fd: int) -> None:
        self.name = name
        self._lock_fd: int | None = lock_fd

    @classmethod
    def acquire(cls, data_dir: Path) -> WorkerIdentity:
        """Take the lowest free slot of ``data_dir``."""
        folder = data_dir / "workers"
        folder.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:8]
        for slot in range(MAX_SLOTS):
            fd = os.open(folder / f"slot-{slot}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            return cls(f"{socket.gethostname()}:{digest}:{slot}", fd)
        raise RoostError(
            f"{MAX_SLOTS} engine worker pools already run on data folder {data_dir}; give this one its own "
            "--data-dir"
        )

    def release(self) -> None:
        """Free the slot (idempotent)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
