"""A Trino query with typed inputs whose result feeds a pandas task (needs roost-presto).

The query's inputs are bound as query parameters by the trino client, never pasted into the SQL. The
coordinator comes from the engine's configuration (``engine.handlers.presto.coordinator``) or, for
``roost run``, from the environment::

    python -m roost_presto.testing --port 8080 --setup examples/trino_trips.sql &
    ROOST_TRINO_COORDINATOR=http://127.0.0.1:8080 roost run examples/trino_trips.py wf --ds 2024-01-01
"""

import pandas as pd

from roost import task, workflow
from roost_presto import TrinoTask

trips = TrinoTask(
    name="trino_trips.trips",
    query_template=(
        "SELECT city, fare FROM trips WHERE ds = CAST({{ .inputs.ds }} AS DATE) "
        "ORDER BY id LIMIT {{ .inputs.limit }}"
    ),
    inputs={"ds": str, "limit": int},
    catalog="memory",
    schema="default",
)


@task
def fares_by_city(trips: pd.DataFrame) -> dict[str, float]:
    """The total fare of each city, rounded to cents."""
    totals = trips.groupby("city")["fare"].sum()
    return {city: round(float(total), 2) for city, total in totals.items()}


@workflow
def wf(ds: str = "2024-01-01", limit: int = 100) -> dict[str, float]:
    """The day's trips from Trino, summed per city in pandas."""
    return fares_by_city(trips=trips(ds=ds, limit=limit))
