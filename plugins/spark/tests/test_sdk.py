"""The SDK side: ``Spark(...)`` as flytekitplugins-spark 1.16 encodes it, its errors, and Spark tasks run as
``roost run`` runs them (one shared session, pyspark data frames to and from pandas tasks)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pyspark.sql
import pytest
from flyteidl.plugins import spark_pb2
from google.protobuf.json_format import MessageToDict
from spark_cases import CASES

from roost import Resources, current_context, task, workflow
from roost.extend import check_task_template, run_in_container, run_locally
from roost_k8s_pod import PodTemplate
from roost_spark import SPARK_SESSION, Spark, SparkConfigError
from roost_spark.session import shared_sessions

HERE = Path(__file__).parent


def spark_config(arguments: dict[str, Any]) -> Spark:
    given = dict(arguments)
    for pod in ("driver_pod", "executor_pod"):
        if pod in given:
            given[pod] = PodTemplate(**given[pod])
    return Spark(**given)


def roost_custom(arguments: dict[str, Any]) -> dict[str, Any]:
    @task(task_config=spark_config(arguments))
    def body(n: int) -> int:
        return n

    template = check_task_template(body, custom_message=spark_pb2.SparkJob)
    assert template.type == "spark"
    return MessageToDict(template.custom)


def test_custom_is_flytekits_sparkjob(flytekit_venv: Path) -> None:
    run = subprocess.run(
        [str(flytekit_venv / "bin" / "python"), str(HERE / "flytekit_spark_side.py")],
        capture_output=True,
        text=True,
        cwd=HERE,
        timeout=300,
        check=False,
        env={"PATH": os.environ["PATH"], "FLYTE_SDK_LOGGING_LEVEL": "40", "HOME": str(HERE)},
    )
    assert run.returncode == 0, run.stderr
    flytekit = json.loads(run.stdout)
    assert sorted(flytekit) == sorted(CASES)
    for name, arguments in CASES.items():
        assert roost_custom(arguments) == flytekit[name], name


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"spark_conf": {"spark.executor.instances": 2}},
            "spark_conf['spark.executor.instances'] is int 2, but Spark settings are strings: write '2'",
        ),
        (
            {"spark_conf": {"executor.memory": "1g"}},
            "spark_conf['executor.memory'] = '1g': Spark ignores settings whose key does not start with "
            "'spark.'; put Hadoop settings in hadoop_conf",
        ),
        (
            {"spark_conf": {"spark.driver.memory": "lots"}},
            "spark_conf['spark.driver.memory'] = 'lots': expected a size such as '512m' or '2g'",
        ),
        (
            {"spark_conf": {"spark.executor.instances": "-1"}},
            "spark_conf['spark.executor.instances'] = '-1': expected a whole number such as '2'",
        ),
        (
            {"spark_conf": {"spark.dynamicAllocation.enabled": "yes"}},
            "spark_conf['spark.dynamicAllocation.enabled'] = 'yes': expected 'true' or 'false'",
        ),
        (
            {"hadoop_conf": {"fs.defaultFS": True}},
            "hadoop_conf['fs.defaultFS'] is bool True, but Spark settings are strings: write 'true'",
        ),
        ({"spark_conf": ["spark.a"]}, "Spark(spark_conf=...) must be a dict of strings, not list"),
        ({"executor_path": 3}, "Spark(executor_path=...) must be a string, not 3"),
        (
            {"driver_pod": {"containers": []}},
            "Spark(driver_pod=...) takes a PodTemplate (from roost_k8s_pod), not dict",
        ),
    ],
)
def test_bad_config_is_refused_naming_the_field(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(SparkConfigError) as raised:
        Spark(**arguments)
    assert message in str(raised.value)


CONF = {"spark.sql.shuffle.partitions": "2"}


@task(task_config=Spark(spark_conf=CONF), limits=Resources(cpu="2"))
def numbers(n: int) -> pyspark.sql.DataFrame:
    spark = current_context().spark_session
    assert spark.sparkContext.master == "local[2]"
    return spark.range(n).withColumnRenamed("id", "x")


@task
def doubled(frame: pd.DataFrame) -> pd.DataFrame:
    frame["y"] = frame["x"] * 2
    return frame


@task(task_config=Spark(spark_conf=CONF), limits=Resources(cpu="2"))
def total(frame: pyspark.sql.DataFrame) -> int:
    assert SPARK_SESSION.get() is frame.sparkSession
    return int(frame.groupBy().sum("y").collect()[0][0])


@workflow
def pipeline(n: int) -> int:
    return total(frame=doubled(frame=numbers(n=n)))


def test_spark_to_pandas_to_spark_shares_one_session() -> None:
    assert run_locally(pipeline, {"n": 10}) == 90
    started = shared_sessions.started
    assert run_locally(pipeline, {"n": 4}) == 12
    assert shared_sessions.started == started  # same master and settings: the session was reused


@task(task_config=Spark(spark_conf={"spark.sql.shuffle.partitions": "3"}))
def partitions() -> str:
    spark = current_context().spark_session
    return f"{spark.sparkContext.master} {spark.conf.get('spark.sql.shuffle.partitions')}"


def test_other_settings_get_a_session_of_their_own() -> None:
    assert run_locally(partitions, {}) == "local[*] 3"


def test_in_its_own_process_as_its_container_runs_it(tmp_path: Path) -> None:
    frame = run_in_container(numbers, {"n": 3}, prefix=tmp_path.as_uri())
    assert sorted(row.x for row in frame.collect()) == [0, 1, 2]
