"""What roost-duckdb-sql ships for tests: the conformance subject (``roost plugins check duckdb_sql``) in
:mod:`roost_duckdb_sql.testing.conformance`, and :func:`running_queries`."""

from __future__ import annotations

import threading


def running_queries() -> int:
    """Queries still running in this process (each runs on a thread named after its attempt)."""
    return sum(1 for thread in threading.enumerate() if thread.name.startswith("duckdb-sql:"))


__all__ = ["running_queries"]
