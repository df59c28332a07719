"""Spark tasks that the engine tests run as processes (``roost-execute`` imports this module)."""

from __future__ import annotations

import os
import time

from roost import Resources, current_context, task
from roost_spark import Spark


@task(
    task_config=Spark(spark_conf={"spark.sql.shuffle.partitions": "3"}, hadoop_conf={"x.y": "z"}),
    limits=Resources(cpu="2"),
)
def settings_seen(n: int) -> str:
    """What the session was started with, and a small job on it."""
    spark = current_context().spark_session
    conf = spark.sparkContext.getConf()
    total = spark.range(n).groupBy().sum("id").collect()[0][0]
    return " ".join(
        [
            spark.sparkContext.master,
            str(conf.get("spark.sql.shuffle.partitions")),
            str(conf.get("spark.hadoop.x.y")),
            str(conf.get("spark.ui.enabled")),
            str(total),
        ]
    )


@task(task_config=Spark())
def fails(n: int) -> int:
    """A user error raised inside a Spark job."""
    spark = current_context().spark_session
    return spark.range(n).rdd.map(lambda x: 1 // 0).sum()


@task(task_config=Spark())
def waits(n: int) -> int:
    """Starts its JVM, records its process group, then waits to be aborted."""
    spark = current_context().spark_session
    spark.range(1).count()
    marker = os.environ["SPARK_TEST_MARKER"]
    with open(marker + ".tmp", "w") as out:
        out.write(str(os.getpgrp()))
    os.rename(marker + ".tmp", marker)
    time.sleep(n)
    return n
