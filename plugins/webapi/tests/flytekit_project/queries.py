"""flytekit's own BigQuery and Snowflake tasks (flytekitplugins 1.16), registered with pyflyte, run by Roost."""

import os

from flytekit import StructuredDataset, kwtypes, workflow
from flytekitplugins.bigquery import BigQueryConfig, BigQueryTask
from flytekitplugins.snowflake import SnowflakeConfig, SnowflakeTask

paid_orders = BigQueryTask(
    name="flytekit.paid_orders",
    query_template="SELECT id, amount FROM sales.orders WHERE paid = @paid AND amount >= @minimum ORDER BY id",
    task_config=BigQueryConfig(ProjectID=os.environ["ROOST_TEST_BIGQUERY_PROJECT"]),
    inputs=kwtypes(paid=bool, minimum=float),
    output_structured_dataset_type=StructuredDataset,
)

large_orders = SnowflakeTask(
    name="flytekit.large_orders",
    query_template="SELECT ID, CUSTOMER FROM ORDERS WHERE AMOUNT > %(threshold)s ORDER BY ID",
    task_config=SnowflakeConfig(
        account="acme", database="SHOP", schema="PUBLIC", warehouse="WH", user="ROOST"
    ),
    inputs=kwtypes(threshold=float),
    output_schema_type=StructuredDataset,
)


@workflow
def queries(minimum: float = 10.0, threshold: float = 50.0) -> (StructuredDataset, StructuredDataset):
    return paid_orders(paid=True, minimum=minimum), large_orders(threshold=threshold)
