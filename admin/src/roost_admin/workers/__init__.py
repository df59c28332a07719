"""Engine workers: the core engine hosted by the admin, claiming executions from the database.

``WorkerPool(app, count)`` runs ``count`` worker threads; ``roost start`` runs a pool inside the admin and
``roost engine`` runs pools in other processes against the same database and blob store (PostgreSQL only:
several processes on one SQLite file are not supported). See :mod:`roost_admin.workers.pool` for claims,
leases and wake-ups, and :mod:`roost_admin.workers.config` for the engine's configuration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from roost_admin.workers.pool import WorkerPool

__all__ = ["WorkerPool"]


def __getattr__(name: str) -> Any:
    # Imported on first use: the RPC modules import this package's store without loading the workers.
    if name == "WorkerPool":
        from roost_admin.workers.pool import WorkerPool

        return WorkerPool
    raise AttributeError(f"module 'roost_admin.workers' has no attribute {name!r}")
