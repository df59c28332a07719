"""The ``spark`` handler: Spark tasks as local processes with real pyspark, their settings checked first."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import spark_tasks
from flyteidl.core import literals_pb2

import roost_spark.engine
from roost.serialize import SerializationSettings, Serializer
from roost_core.extend import ErrorKind, TaskHandler
from roost_core.testing.driver import Driver
from roost_core.testing.harness import build_handler
from roost_core.testing.tasks import task_context
from roost_spark.java import JavaError, find_java

HERE = Path(__file__).parent


def template(task: object) -> object:
    return Serializer(SerializationSettings(project="p", domain="d", version="v1")).task(task)  # type: ignore[arg-type]


def spark_handler(tmp_path: Path, **section: object) -> TaskHandler:
    return build_handler(
        [roost_spark.engine],
        "spark",
        section={"work_dir": str(tmp_path / "work"), "kill_grace_period": 2, **section},
    )


@pytest.fixture
def handler(tmp_path: Path) -> Iterator[TaskHandler]:
    built = spark_handler(tmp_path)
    yield built
    built.close()


def context(tmp_path: Path, task: object, **environment: str) -> object:
    return task_context(
        tmp_path, template(task), inputs={"n": 4}, environment={"PYTHONPATH": str(HERE), **environment}
    )


def output(ctx: object, name: str = "o0") -> literals_pb2.Literal:
    outputs = ctx.storage.read_proto(ctx.outputs_uri, literals_pb2.LiteralMap)  # type: ignore[attr-defined]
    return outputs.literals[name]


def test_a_spark_task_runs_in_local_mode_with_its_settings(tmp_path: Path, handler: TaskHandler) -> None:
    ctx = context(tmp_path, spark_tasks.settings_seen)
    with Driver(handler, ctx, wait=240) as driver:
        done = driver.until_done()
    assert done.phase.name == "SUCCESS", done.error
    assert output(ctx).scalar.primitive.string_value == "local[2] 3 z false 6"


def test_a_failing_spark_job_is_the_users_error(tmp_path: Path, handler: TaskHandler) -> None:
    with Driver(handler, context(tmp_path, spark_tasks.fails), wait=240) as driver:
        done = driver.until_done()
    assert done.phase.name in {"RETRYABLE_FAILURE", "PERMANENT_FAILURE"}
    assert done.error.kind is ErrorKind.USER
    assert "ZeroDivisionError" in done.error.message


def with_custom(task: object, **custom: object) -> object:
    bad = template(task)
    bad.custom.update(custom)  # type: ignore[attr-defined]
    return bad


def test_a_bad_setting_fails_before_anything_starts(tmp_path: Path, handler: TaskHandler) -> None:
    bad = with_custom(spark_tasks.fails, sparkConf={"spark.executor.instances": "two"})
    ctx = task_context(tmp_path, bad, inputs={"n": 1})
    done = Driver(handler, ctx, wait=240).until_done()
    assert done.phase.name == "PERMANENT_FAILURE"
    assert done.error.code == "BadSparkConf"
    assert done.error.message == (
        "task 'spark_tasks.fails': spark_conf['spark.executor.instances'] = 'two': expected a whole number "
        "such as '2'; fix the task's Spark(...) config"
    )
    assert not (tmp_path / "work").exists() or not any((tmp_path / "work").iterdir())


def test_a_custom_that_is_no_sparkjob_is_refused(tmp_path: Path, handler: TaskHandler) -> None:
    bad = with_custom(spark_tasks.fails, sparkConf="spark.a=b")
    done = Driver(handler, task_context(tmp_path, bad, inputs={"n": 1}), wait=240).until_done()
    assert done.phase.name == "PERMANENT_FAILURE"
    assert done.error.code == "BadTaskSpecification"
    assert done.error.message.startswith("task 'spark_tasks.fails': its custom is not a SparkJob:")


def test_a_missing_java_is_named_with_what_to_do(tmp_path: Path) -> None:
    handler = spark_handler(tmp_path, java_home=str(tmp_path / "no-jdk"))
    try:
        done = Driver(handler, context(tmp_path, spark_tasks.fails), wait=240).until_done()
    finally:
        handler.close()
    assert done.phase.name == "PERMANENT_FAILURE"
    assert done.error.code == "JavaNotFound"
    assert done.error.message == (
        f"task 'spark_tasks.fails': JAVA_HOME is '{tmp_path / 'no-jdk'}' but {tmp_path / 'no-jdk'}/bin/java is "
        "not an executable; set JAVA_HOME to a Java 17+ installation (or unset it to use java from PATH) "
        "(engine.handlers.spark.java_home sets JAVA_HOME for Spark tasks)"
    )


def test_no_java_on_path(tmp_path: Path) -> None:
    with pytest.raises(JavaError) as raised:
        find_java({"PATH": str(tmp_path)})
    assert str(raised.value) == (
        "Spark needs Java 17 or later and none was found (JAVA_HOME is unset and there is no java on PATH); "
        "install a JDK (Debian: apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
    )


def test_an_old_java_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "jdk8"
    (home / "bin").mkdir(parents=True)
    java = home / "bin" / "java"
    java.write_text("#!/bin/sh\necho 'openjdk version \"1.8.0_392\"' >&2\n")
    java.chmod(0o755)
    with pytest.raises(JavaError) as raised:
        find_java({"JAVA_HOME": str(home)})
    assert str(raised.value) == (
        f"Spark needs Java 17 or later, but {java} is Java 8; install a newer JDK or point JAVA_HOME at one"
    )


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _java_in_group(pgid: int) -> bool:
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            command = (proc / "comm").read_text().strip()
        except OSError:
            continue
        if int(fields[2]) == pgid and command == "java":
            return True
    return False


def test_abort_kills_the_task_and_its_jvm(tmp_path: Path, handler: TaskHandler) -> None:
    marker = tmp_path / "pgid"
    ctx = task_context(
        tmp_path,
        template(spark_tasks.waits),
        inputs={"n": 600},
        environment={"PYTHONPATH": str(HERE), "SPARK_TEST_MARKER": str(marker)},
    )
    driver = Driver(handler, ctx, wait=240)
    driver.until(lambda t: t.phase.name == "RUNNING", "running")
    deadline = time.monotonic() + 240
    while not marker.exists():
        assert time.monotonic() < deadline, "the task never started its session"
        time.sleep(0.2)
    pgid = int(marker.read_text())
    assert _java_in_group(pgid)
    started = time.monotonic()
    driver.abort()
    while _group_alive(pgid):
        assert time.monotonic() - started < 15, "the attempt's processes outlived the abort"
        time.sleep(0.1)
    assert not _java_in_group(pgid)
