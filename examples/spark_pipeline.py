"""Spark → pandas → Spark: Spark data frames passed to and from a pandas task as parquet datasets.

Needs roost-spark with its local extra (pyspark) and Java 17 or later:

    roost run examples/spark_pipeline.py wf --rows 20
"""

import pandas as pd
import pyspark.sql

from roost import Resources, current_context, task, workflow
from roost_spark import Spark

SPARK = Spark(spark_conf={"spark.sql.shuffle.partitions": "2"})


@task(task_config=SPARK, limits=Resources(cpu="2"))
def orders(rows: int) -> pyspark.sql.DataFrame:
    """Orders of three customers, made by Spark."""
    spark = current_context().spark_session
    return spark.range(rows).selectExpr("id AS order_id", "id % 3 AS customer", "id * 10 AS cents")


@task
def with_tax(frame: pd.DataFrame) -> pd.DataFrame:
    """A 10% tax added, in pandas."""
    frame["total"] = frame["cents"] + frame["cents"] // 10
    return frame


@task(task_config=SPARK, limits=Resources(cpu="2"))
def biggest_customer(frame: pyspark.sql.DataFrame) -> str:
    """The customer whose orders add up to the most, with that sum, computed by Spark."""
    top = frame.groupBy("customer").sum("total").orderBy("sum(total)", ascending=False).first()
    return f"customer {top['customer']}: {top['sum(total)']} cents"


@workflow
def wf(rows: int = 20) -> str:
    """Make orders with Spark, add tax with pandas, aggregate with Spark."""
    return biggest_customer(frame=with_tax(frame=orders(rows=rows)))
