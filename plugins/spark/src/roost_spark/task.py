"""The Spark task class: ``@task(task_config=Spark(...))`` makes a :class:`SparkTask`."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from roost.extend import ContextAttribute, PluginTask, SerializationSettings, TaskRunContext
from roost_spark.config import Spark, spark_job
from roost_spark.java import JavaError, find_java
from roost_spark.session import SessionKey, engine_configured, local_master, parse_cpus, session

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["SPARK_SESSION", "SparkTask"]

SPARK_SESSION: ContextAttribute[SparkSession] = ContextAttribute(
    "spark_session", "pyspark.sql.session.SparkSession", doc="the Spark session of Spark tasks (roost-spark)"
)
"""``current_context().spark_session``: the session a Spark task runs with."""


class SparkTask(PluginTask[Spark]):
    """A Python function run with a Spark session; task type ``spark``, ``custom`` a ``SparkJob``."""

    task_type = "spark"

    def custom(self, settings: SerializationSettings) -> dict[str, Any]:
        """``SparkJob``, as flytekitplugins-spark writes it."""
        return spark_job(self.task_config)

    def session_key(self) -> SessionKey:
        """The session this task asks for: ``local[N]`` with N its CPU limit (else request), and its settings."""
        cpus = None
        for resources in (self.options.limits, self.options.requests):
            if resources is not None and resources.cpu is not None:
                cpus = parse_cpus(resources.cpu)
                break
        config = self.task_config
        return SessionKey.of(local_master(cpus), config.spark_conf or {}, config.hadoop_conf or {})

    def pre_execute(self, ctx: TaskRunContext) -> TaskRunContext:
        """Start (or reuse) the session before the inputs are read, so Spark inputs can use it."""
        key = self.session_key()
        if not engine_configured():
            try:
                find_java(os.environ)
            except JavaError as exc:
                raise JavaError(f"Spark task {self.name!r}: {exc}") from None
        app = f"roost: {ctx.execution_name or 'local'} {self.name}"
        spark = ctx.cleanup.enter_context(session(key, app))
        ctx.set(SPARK_SESSION, spark)
        return ctx
