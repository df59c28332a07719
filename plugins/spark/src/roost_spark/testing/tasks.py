"""The Spark tasks of roost-spark's conformance subject (:mod:`roost_spark.testing.conformance`); their task
processes import this module. Each starts a real local Spark session (a JVM), which takes seconds: long enough
for the checks that need a task still running."""

from __future__ import annotations

from roost import Resources, task
from roost_spark import SPARK_SESSION, Spark

_ONE_CPU = Resources(cpu="1")
"""``local[1]``: one core per task, as the tests share the machine."""


@task(task_config=Spark(spark_conf={"spark.sql.shuffle.partitions": "1"}), limits=_ONE_CPU)
def total(n: int) -> int:
    """The sum of 0 … n-1, computed by a Spark job."""
    spark = SPARK_SESSION.get()
    return int(spark.sparkContext.parallelize(range(n)).sum())


@task(task_config=Spark(), limits=_ONE_CPU)
def divide_by_zero(n: int) -> int:
    """A Spark job whose Python workers raise ZeroDivisionError: the user's error."""
    spark = SPARK_SESSION.get()
    return int(spark.sparkContext.parallelize(range(n)).map(lambda x: x // 0).sum())
