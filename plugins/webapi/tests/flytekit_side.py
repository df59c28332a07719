"""Run in flytekit's virtualenv: serialize flytekitplugins' BigQuery and Snowflake tasks, print them as JSON."""

import json
import sys
from collections import OrderedDict

from flytekit import StructuredDataset, kwtypes
from flytekit.configuration import ImageConfig, SerializationSettings
from flytekit.tools.translator import get_serializable
from flytekitplugins.bigquery import BigQueryConfig, BigQueryTask
from flytekitplugins.snowflake import SnowflakeConfig, SnowflakeTask
from google.cloud import bigquery
from google.protobuf import json_format

TASKS = {
    "bigquery_full": lambda: BigQueryTask(
        name="bq_full",
        query_template="SELECT id,\n\t amount FROM sales.orders\n WHERE amount > @minimum AND customer = @who  ",
        task_config=BigQueryConfig(
            ProjectID="acme",
            Location="EU",
            QueryJobConfig=bigquery.QueryJobConfig(
                use_query_cache=False, priority="BATCH", maximum_bytes_billed=1000
            ),
        ),
        inputs=kwtypes(minimum=float, who=str),
        output_structured_dataset_type=StructuredDataset,
    ),
    "bigquery_bare": lambda: BigQueryTask(
        name="bq_bare", query_template="SELECT 1", task_config=BigQueryConfig(ProjectID="acme")
    ),
    "snowflake": lambda: SnowflakeTask(
        name="sf",
        query_template="SELECT * FROM ORDERS WHERE AMOUNT > %(minimum)s",
        task_config=SnowflakeConfig(
            account="acme-eu", database="SHOP", schema="PUBLIC", warehouse="WH", user="ROOST"
        ),
        inputs=kwtypes(minimum=float),
        output_schema_type=StructuredDataset,
    ),
}

settings = SerializationSettings(
    project="proj", domain="dev", version="v7", image_config=ImageConfig.auto_default_image()
)
task = TASKS[sys.argv[1]]()
template = get_serializable(OrderedDict(), settings, task).template.to_flyte_idl()
print(json.dumps(json.loads(json_format.MessageToJson(template))))
