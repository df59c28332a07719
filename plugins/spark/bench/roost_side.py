"""Roost's half of bench_spark.py: the Spark → pandas → Spark workflow, run ROUNDS times in one process as
`roost run` runs it; prints the seconds of each run as JSON."""

from __future__ import annotations

import json
import sys
import time

import pandas as pd
import pyspark.sql

from roost import Resources, current_context, task, workflow
from roost.extend import run_locally
from roost_spark import Spark

SPARK = Spark(spark_conf={"spark.sql.shuffle.partitions": "2"})


@task(task_config=SPARK, limits=Resources(cpu="2"))
def orders(rows: int) -> pyspark.sql.DataFrame:
    spark = current_context().spark_session
    return spark.range(rows).selectExpr("id AS order_id", "id % 3 AS customer", "id * 10 AS cents")


@task
def with_tax(frame: pd.DataFrame) -> pd.DataFrame:
    frame["total"] = frame["cents"] + frame["cents"] // 10
    return frame


@task(task_config=SPARK, limits=Resources(cpu="2"))
def biggest(frame: pyspark.sql.DataFrame) -> int:
    return int(frame.groupBy("customer").sum("total").orderBy("sum(total)", ascending=False).first()[1])


@workflow
def pipeline(rows: int) -> int:
    return biggest(frame=with_tax(frame=orders(rows=rows)))


def main() -> None:
    rows, rounds = int(sys.argv[1]), int(sys.argv[2])
    seconds = []
    for _ in range(rounds):
        started = time.perf_counter()
        result = run_locally(pipeline, {"rows": rows})
        seconds.append(time.perf_counter() - started)
    print(json.dumps({"seconds": seconds, "result": result}))


if __name__ == "__main__":
    main()
