"""The engine side of roost-duckdb-sql (entry point ``roost.engine``): registers the ``duckdb_sql`` handler as
the default for ``duckdb-sql`` tasks. The handler's module (and DuckDB) is imported only when an engine builds
it, and its settings class is named by string so that loading the plugin imports neither."""

from __future__ import annotations

from typing import TYPE_CHECKING

from roost_core.extend import RegisterHandler, TaskHandler, hookimpl

if TYPE_CHECKING:
    from roost_duckdb_sql.settings import DuckDBSQLSettings

TASK_TYPES = ("duckdb-sql",)


def duckdb_sql_handler(settings: DuckDBSQLSettings) -> TaskHandler:
    """The handler, with its validated settings."""
    from roost_duckdb_sql.handler import DuckDBSQLHandler

    return DuckDBSQLHandler(settings)


@hookimpl
def roost_task_handlers(register: RegisterHandler) -> None:
    """The ``duckdb_sql`` handler, the default for ``duckdb-sql`` tasks."""
    register(
        "duckdb_sql",
        duckdb_sql_handler,
        task_types=TASK_TYPES,
        default=True,
        settings="roost_duckdb_sql.settings:DuckDBSQLSettings",
    )
