"""Queries on web APIs feeding Python: a BigQuery query with typed inputs → a pandas task → a Snowflake query.

The queries run in the engine (no task process), through the roost-webapi handlers; where the services are and
how to log in is engine configuration, not code. Against the stand-ins (bqemulator and fakesnow), a roost.yaml:

    engine:
      handlers:
        bigquery: {endpoint: "http://127.0.0.1:9050", credentials: anonymous}
        snowflake: {host: 127.0.0.1, port: 8765, protocol: http, authenticator: password}

with ROOST_SECRET_SNOWFLAKE_PASSWORD set, then `ROOST_CONFIG=roost.yaml roost run bigquery_snowflake.py wf` (or
`roost start --config roost.yaml` and `roost run --remote`). The project, account and so on come from the
environment variables below; the tables they read are `sales.orders` (BigQuery) and `ORDERS` (Snowflake).
"""

import os

import pandas as pd

from roost import task, workflow
from roost.types.structured import StructuredDataset
from roost_webapi import BigQueryConfig, BigQueryTask, SnowflakeConfig, SnowflakeTask

paid_orders = BigQueryTask(
    name="paid_orders",
    query_template="""
        SELECT id, customer, amount FROM sales.orders
        WHERE paid = @paid AND amount >= @minimum
        ORDER BY id
    """,
    task_config=BigQueryConfig(ProjectID=os.environ.get("ROOST_EXAMPLE_BIGQUERY_PROJECT", "roost-example")),
    inputs={"paid": bool, "minimum": float},
    output_structured_dataset_type=StructuredDataset,
)

large_orders = SnowflakeTask(
    name="large_orders",
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
def mean_amount(orders: pd.DataFrame) -> float:
    """The mean amount of the BigQuery rows."""
    return float(orders["amount"].mean())


@task
def customers(orders: pd.DataFrame) -> str:
    """The customers of the Snowflake rows, comma-separated."""
    return ",".join(orders["CUSTOMER"])


@workflow
def wf(minimum: float = 10.0) -> str:
    """Paid orders from BigQuery, their mean amount, and the Snowflake orders above that mean."""
    return customers(
        orders=large_orders(threshold=mean_amount(orders=paid_orders(paid=True, minimum=minimum)))
    )
