"""A workflow using a ``duckdb-sql`` task: a Python task makes a data frame of taxi trips, DuckDB totals the
fares per city above a minimum, a Python task reads the result.

``roost run workflow.py wf --min_fare 10`` prints ``{"o0": {"Lyon": 57.5, "Paris": 30.0}}``.
"""

from __future__ import annotations

import pandas as pd

from roost import task, workflow
from roost_duckdb_sql import DuckDBSQLTask

fares_by_city = DuckDBSQLTask(
    "fares_by_city",
    """
    select city, sum(fare) as total
    from trips
    where fare >= $min_fare
    group by city
    order by city
    """,
    inputs={"trips": pd.DataFrame, "min_fare": float},
)


@task
def trips() -> pd.DataFrame:
    """Five trips in two cities."""
    return pd.DataFrame(
        {
            "city": ["Paris", "Lyon", "Paris", "Lyon", "Lyon"],
            "fare": [30.0, 25.0, 8.5, 32.5, 4.0],
        }
    )


@task
def as_dict(totals: pd.DataFrame) -> dict[str, float]:
    """The totals by city."""
    return dict(zip(totals["city"], totals["total"], strict=True))


@workflow
def wf(min_fare: float = 10.0) -> dict[str, float]:
    """The total fare per city of the trips costing at least ``min_fare``."""
    return as_dict(totals=fares_by_city(trips=trips(), min_fare=min_fare))
