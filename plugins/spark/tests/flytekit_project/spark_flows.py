"""A flytekit 1.16 workflow with flytekitplugins-spark tasks: a Spark data frame read by a pandas task and by
another Spark task (registered with `pyflyte register` on `roost start` by test_flytekit_interop.py).

The pandas task returns a number rather than a data frame: flytekit 1.16's pandas encoder cannot write to a
``file://`` raw output prefix (it makes the folder as a relative path named ``file:``), and Spark cannot write
to S3 without hadoop-aws, so no one storage suits both here."""

import pandas as pd
import pyspark.sql
from flytekit import Resources, current_context, task, workflow
from flytekitplugins.spark import Spark

SPARK = Spark(spark_conf={"spark.sql.shuffle.partitions": "2"})


@task(task_config=SPARK, limits=Resources(cpu="2"))
def orders(rows: int) -> pyspark.sql.DataFrame:
    spark = current_context().spark_session
    return spark.range(rows).selectExpr("id AS order_id", "id % 3 AS customer", "id * 10 AS cents")


@task
def taxed_total(frame: pd.DataFrame) -> int:
    return int((frame["cents"] + frame["cents"] // 10).sum())


@task(task_config=SPARK, limits=Resources(cpu="2"))
def biggest_customer(frame: pyspark.sql.DataFrame) -> str:
    spark = current_context().spark_session
    frame = frame.selectExpr("customer", "cents + cents DIV 10 AS total")
    top = frame.groupBy("customer").sum("total").orderBy("sum(total)", ascending=False).first()
    return f"customer {top['customer']}: {top['sum(total)']} cents on {spark.sparkContext.master}"


@task(task_config=Spark(spark_conf={"spark.executor.instances": "many"}))
def misconfigured(rows: int) -> int:
    return rows


@task
def report(top: str, total: int) -> str:
    return f"{top}; all: {total} cents"


@workflow
def pipeline(rows: int = 20) -> str:
    frame = orders(rows=rows)
    return report(top=biggest_customer(frame=frame), total=taxed_total(frame=frame))


@workflow
def broken(rows: int = 1) -> int:
    return misconfigured(rows=rows)
