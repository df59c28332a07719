"""A data team's SQL pipeline: a Trino query → a pandas task → a BigQuery query → a Snowflake query → pandas.

Every query runs in the engine (no task process) through the roost-presto and roost-webapi handlers, with its
inputs bound as query parameters; where each service is and how to log in is engine configuration, not code.
Against the stand-ins (the Trino test server with examples/trino_trips.sql, bqemulator, fakesnow), a roost.yaml:

    engine:
      handlers:
        presto: {coordinator: "http://127.0.0.1:8080"}
        bigquery: {endpoint: "http://127.0.0.1:9050", credentials: anonymous}
        snowflake: {host: 127.0.0.1, port: 8765, protocol: http, authenticator: password}

with ROOST_SECRET_SNOWFLAKE_PASSWORD set, then `ROOST_CONFIG=roost.yaml roost run sql_pipeline.py wf` (or
`roost start --config roost.yaml` and `roost run --remote`). The BigQuery and Snowflake tables are those of
examples/bigquery_snowflake.py.
"""

import os

import pandas as pd

from roost import task, workflow
from roost.types.structured import StructuredDataset
from roost_presto import TrinoTask
from roost_webapi import BigQueryConfig, BigQueryTask, SnowflakeConfig, SnowflakeTask

day_trips = TrinoTask(
    name="sql_pipeline.day_trips",
    query_template="SELECT city, fare FROM trips WHERE ds = CAST({{ .inputs.ds }} AS DATE) ORDER BY id",
    inputs={"ds": str},
    catalog="memory",
    schema="default",
)

orders_from = BigQueryTask(
    name="sql_pipeline.orders_from",
    query_template="SELECT id, customer, amount FROM sales.orders WHERE paid = TRUE AND amount >= @minimum",
    task_config=BigQueryConfig(ProjectID=os.environ.get("ROOST_EXAMPLE_BIGQUERY_PROJECT", "roost-example")),
    inputs={"minimum": float},
    output_structured_dataset_type=StructuredDataset,
)

orders_above = SnowflakeTask(
    name="sql_pipeline.orders_above",
    query_template="SELECT ID, CUSTOMER, AMOUNT FROM ORDERS WHERE AMOUNT > %(threshold)s ORDER BY ID",
    task_config=SnowflakeConfig(
        account=os.environ.get("ROOST_EXAMPLE_SNOWFLAKE_ACCOUNT", "roost-example"),
        database=os.environ.get("ROOST_EXAMPLE_SNOWFLAKE_DATABASE", "SHOP"),
        schema=os.environ.get("ROOST_EXAMPLE_SNOWFLAKE_SCHEMA", "PUBLIC"),
        warehouse=os.environ.get("ROOST_EXAMPLE_SNOWFLAKE_WAREHOUSE", "COMPUTE_WH"),
        user=os.environ.get("ROOST_EXAMPLE_SNOWFLAKE_USER", "ROOST"),
    ),
    inputs={"threshold": float},
    output_schema_type=StructuredDataset,
)


@task
def top_fare(trips: pd.DataFrame) -> float:
    """The day's highest single fare (Trino's rows, in pandas)."""
    return float(trips["fare"].max())


@task
def mean_order(orders: pd.DataFrame) -> float:
    """The mean amount of the BigQuery orders."""
    return round(float(orders["amount"].mean()), 2)


@task
def customers(orders: pd.DataFrame) -> str:
    """The customers of the Snowflake rows, comma-separated."""
    return ",".join(orders["CUSTOMER"])


@workflow
def wf(ds: str = "2024-01-01") -> str:
    """The day's top Trino fare is the floor for paid BigQuery orders; Snowflake's orders above their mean."""
    floor = top_fare(trips=day_trips(ds=ds))
    return customers(orders=orders_above(threshold=mean_order(orders=orders_from(minimum=floor))))
