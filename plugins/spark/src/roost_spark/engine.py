"""The engine side of roost-spark (entry point ``roost.engine``): the ``spark`` handler, running Spark tasks
with a local pyspark (the default for task type ``spark``), and, when ``roost-spark[kubernetes]`` is
installed, ``spark-kubernetes``, running them as spark-operator SparkApplications (chosen by configuration:
``engine.default_for_task_types: {spark: spark-kubernetes}``).

Registering imports neither pyspark, pydantic, nor a Kubernetes client.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

from roost_core.extend import RegisterHandler, TaskHandler, hookimpl

if TYPE_CHECKING:
    from roost_spark.kubernetes.settings import SparkKubernetesSettings
    from roost_spark.settings import SparkLocalSettings

__all__ = ["roost_task_handlers"]

TASK_TYPE = "spark"


def spark_kubernetes_handler(settings: SparkKubernetesSettings) -> TaskHandler:
    """The SparkApplication handler, built with its settings (needs ``roost-spark[kubernetes]``)."""
    from roost_spark.kubernetes.handler import SparkKubernetesHandler

    return SparkKubernetesHandler(settings)


def spark_local_handler(settings: SparkLocalSettings) -> TaskHandler:
    """The local Spark handler, built with its settings."""
    from roost_spark.local import SparkLocalHandler

    return SparkLocalHandler(settings)


@hookimpl
def roost_task_handlers(register: RegisterHandler) -> None:
    """``spark`` (local, the default) and, with the Kubernetes extra, ``spark-kubernetes``."""
    register(
        "spark",
        spark_local_handler,
        task_types=[TASK_TYPE],
        default=True,
        settings="roost_spark.settings:SparkLocalSettings",
    )
    if importlib.util.find_spec("roost_k8s_pod") is not None:
        register(
            "spark-kubernetes",
            spark_kubernetes_handler,
            task_types=[TASK_TYPE],
            settings="roost_spark.kubernetes.settings:SparkKubernetesSettings",
        )
