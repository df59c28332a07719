"""The ``duckdb_sql`` handler's settings (``engine.handlers.duckdb_sql``), imported only when an engine builds
the handler."""

from __future__ import annotations

from pydantic import Field

from roost_core.extend import HandlerSettings


class DuckDBSQLSettings(HandlerSettings):
    """Where queries read from, and how much of the engine's machine they may take."""

    database: str = ""
    """A DuckDB database file every query can read (opened read-only): its tables are queryable beside the
    task's inputs. Empty: each query starts from an empty in-memory database."""
    threads: int = Field(default=0, ge=0)
    """DuckDB's worker threads per query; 0 leaves DuckDB's default (one per core)."""
    max_queries: int = Field(default=4, ge=1)
    """How many queries may run at once in this engine process; more wait (WAITING_FOR_RESOURCES)."""
