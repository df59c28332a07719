"""Spark tasks for Roost: ``@task(task_config=Spark(...))``, pyspark data frames as task inputs and outputs,
a local handler running them with real pyspark, and a spark-operator handler (``roost-spark[kubernetes]``).

Names are loaded on first use, so ``import roost_spark`` imports neither pyspark nor a Kubernetes client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from roost_core.lazy import lazy_exports

if TYPE_CHECKING:
    from roost_spark.config import Spark, SparkConfigError
    from roost_spark.task import SPARK_SESSION, SparkTask

__all__ = ["SPARK_SESSION", "Spark", "SparkConfigError", "SparkTask"]

_HOMES = {
    "Spark": "roost_spark.config",
    "SparkConfigError": "roost_spark.config",
    "SPARK_SESSION": "roost_spark.task",
    "SparkTask": "roost_spark.task",
}


__getattr__ = lazy_exports(__name__, _HOMES)
