"""The SDK side of roost-spark (entry point ``roost.sdk``): the task config, the data frame kind and the
session attribute. Nothing here imports pyspark; that happens when a Spark task or data frame is used."""

from __future__ import annotations

from roost.extend import RegisterContextAttribute, RegisterDatasetHandler, RegisterTaskType, hookimpl
from roost_spark.config import Spark
from roost_spark.frames import SparkParquetDecoder, SparkParquetEncoder
from roost_spark.task import SPARK_SESSION, SparkTask


@hookimpl
def roost_task_types(register: RegisterTaskType) -> None:
    """``@task(task_config=Spark(...))`` makes a ``SparkTask``."""
    register(Spark, SparkTask)


@hookimpl
def roost_structured_dataset_handlers(register: RegisterDatasetHandler) -> None:
    """pyspark data frames, stored as parquet."""
    register(SparkParquetEncoder())
    register(SparkParquetDecoder())


@hookimpl
def roost_context_attributes(register: RegisterContextAttribute) -> None:
    """``current_context().spark_session``."""
    register(SPARK_SESSION)
