"""DuckDB SQL tasks for Roost: ``DuckDBSQLTask`` runs a query in DuckDB, with typed inputs bound as parameters
or queried as tables, and returns the result as a data frame; the ``duckdb_sql`` handler runs it in the engine."""

from __future__ import annotations

from roost_duckdb_sql.task import OUTPUT, TASK_TYPE, DuckDBSQLConfig, DuckDBSQLTask

__all__ = ["OUTPUT", "TASK_TYPE", "DuckDBSQLConfig", "DuckDBSQLTask"]
