"""Engine workers: the core engine hosted by the admin, claiming executions from the database.

``WorkerPool(services, count, ...)`` (``AdminApp.worker_pool(count)`` wires one) runs ``count`` worker threads over
the admin's services; ``roost start`` runs a pool inside the admin and
``roost engine`` runs pools in other processes against the same database and blob store (PostgreSQL only:
several processes on one SQLite file are not supported). See :mod:`roost_admin.workers.pool` for claims,
leases and wake-ups, and :mod:`roost_admin.workers.config` for the engine's configuration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from roost_core.lazy import lazy_exports

if TYPE_CHECKING:
    from roost_admin.workers.pool import WorkerPool

__all__ = ["WorkerPool"]


# Imported on first use: `import roost_admin.workers` stays light until a pool is made.
__getattr__ = lazy_exports(__name__, {"WorkerPool": "roost_admin.workers.pool"})
