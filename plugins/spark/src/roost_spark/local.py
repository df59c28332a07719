"""The ``spark`` handler: runs Spark tasks on this machine with real pyspark in ``local[N]`` mode.

It is ``local-process`` (the task's command as a supervised process group, see
:class:`roost_core.extend.LocalProcessHandler`) with Spark set up around it. Before the first start of an
attempt it reads the task's ``SparkJob`` (``TaskTemplate.custom``, from Roost or flytekitplugins-spark),
checks its settings and finds Java, failing the task with a message naming the task and the field
otherwise; then it starts the command with ``PYSPARK_SUBMIT_ARGS`` saying ``--master local[N]`` (N: the
task's CPU limit, else request, rounded up; ``*`` when it gives none) and every setting as ``--conf``
(``hadoop_conf`` as ``spark.hadoop.*``). pyspark in the task process (Roost's ``SparkTask`` or flytekit's
``PysparkFunctionTask``) starts its JVM with them. The JVM is a child of the task process, in its process
group, so an abort takes it down with the task.

Each attempt is its own process and JVM: sessions are shared between tasks only within one process (``roost
run``, see :mod:`roost_spark.session`).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
from typing import Any

from flyteidl.plugins import spark_pb2
from google.protobuf.json_format import MessageToDict, ParseDict, ParseError

from roost_core.extend import ErrorKind, LocalProcessHandler, TaskContext, TaskHandler, Transition
from roost_spark.conf import check_conf, submit_arguments
from roost_spark.java import JavaError, find_java
from roost_spark.session import LOCALHOST_SETTINGS, QUIET_SETTINGS, local_master, parse_cpus
from roost_spark.settings import SparkLocalSettings

__all__ = ["SparkLocalHandler", "read_spark_job", "task_cpus"]

_CPU = 1  # flyteidl Resources.ResourceName.CPU


def read_spark_job(ctx: TaskContext) -> spark_pb2.SparkJob:
    """The task's ``SparkJob``; ``ValueError`` saying what is wrong when ``custom`` is not one."""
    custom: dict[str, Any] = MessageToDict(ctx.task.custom) if ctx.task.HasField("custom") else {}
    try:
        return ParseDict(custom, spark_pb2.SparkJob(), ignore_unknown_fields=True)
    except ParseError as exc:
        raise ValueError(f"its custom is not a SparkJob: {exc}") from None


def task_cpus(ctx: TaskContext) -> float | None:
    """The CPUs the task's container asks for: its limit, else its request; None when it names none."""
    if not ctx.task.HasField("container"):
        return None
    resources = ctx.task.container.resources
    for entries in (resources.limits, resources.requests):
        for entry in entries:
            if entry.name == _CPU:
                return parse_cpus(entry.value)
    return None


class SparkLocalHandler(TaskHandler):
    """Runs ``spark`` tasks as local processes with a local Spark; see the module docstring."""

    def __init__(self, settings: SparkLocalSettings | None = None) -> None:
        self.settings = settings or SparkLocalSettings()
        self._processes = LocalProcessHandler(self.settings)

    def handle(self, ctx: TaskContext) -> Transition:
        """Check the task and start it with Spark's environment (first round), or report on it."""
        if ctx.state:
            return self._processes.handle(ctx)
        try:
            environment = self._spark_environment(ctx)
        except _Refusal as refusal:
            return refusal.transition
        started = dataclasses.replace(ctx, environment={**ctx.environment, **environment})
        return self._processes.handle(started)

    def abort(self, ctx: TaskContext) -> None:
        """Kill the attempt's process group: the task, its JVM and Spark's Python workers."""
        self._processes.abort(ctx)

    def finalize(self, ctx: TaskContext) -> None:
        """Remove the attempt's folder."""
        self._processes.finalize(ctx)

    def close(self) -> None:
        """Stop the local-process handler's warm servers, if warm processes were switched on."""
        self._processes.close()

    def _spark_environment(self, ctx: TaskContext) -> dict[str, str]:
        task = ctx.task.id.name
        try:
            job = read_spark_job(ctx)
        except ValueError as exc:
            raise _Refusal(
                Transition.failure("BadTaskSpecification", f"task {task!r}: {exc}", retryable=False)
            ) from None
        problems = check_conf(dict(job.sparkConf), dict(job.hadoopConf))
        if problems:
            raise _Refusal(
                Transition.failure(
                    "BadSparkConf",
                    f"task {task!r}: " + "; ".join(problems) + "; fix the task's Spark(...) config",
                    retryable=False,
                )
            )
        environment: dict[str, str] = {"SPARK_LOCAL_IP": "127.0.0.1"}
        if self.settings.java_home:
            environment["JAVA_HOME"] = self.settings.java_home
        try:
            find_java(self._process_environment(ctx, environment))
        except JavaError as exc:
            raise _Refusal(
                Transition.failure(
                    "JavaNotFound",
                    f"task {task!r}: {exc} (engine.handlers.spark.java_home sets JAVA_HOME for Spark tasks)",
                    kind=ErrorKind.SYSTEM,
                    retryable=False,
                )
            ) from None
        settings = {**QUIET_SETTINGS, **LOCALHOST_SETTINGS, **self.settings.spark_conf, **job.sparkConf}
        settings.update({f"spark.hadoop.{key}": value for key, value in job.hadoopConf.items()})
        environment["PYSPARK_SUBMIT_ARGS"] = submit_arguments(local_master(task_cpus(ctx)), settings)
        return environment

    def _process_environment(self, ctx: TaskContext, spark: dict[str, str]) -> dict[str, str]:
        """The environment the task process will have, as far as finding Java goes."""
        shared = self.settings.task_environment
        environment = {
            name: value
            for name, value in os.environ.items()
            if not any(fnmatch.fnmatchcase(name, pattern) for pattern in shared.drop_env)
        }
        environment.update(ctx.environment)
        environment.update(shared.env)
        environment.update(spark)
        return environment


class _Refusal(Exception):
    def __init__(self, transition: Transition) -> None:
        super().__init__(transition.error.message if transition.error else "")
        self.transition = transition
