"""The settings of the ``spark-kubernetes`` handler (``engine.handlers.spark-kubernetes``)."""

from __future__ import annotations

from pydantic import Field, field_validator

from roost_k8s_pod import K8sHandlerSettings
from roost_spark.conf import check_conf

__all__ = ["SparkKubernetesSettings"]


class SparkKubernetesSettings(K8sHandlerSettings):
    """The shared ``kubernetes`` and ``task_environment`` sections, plus the SparkApplication's defaults."""

    spark_version: str = "4.0.0"
    """``spec.sparkVersion``: the Spark version of the images."""
    spark_conf: dict[str, str] = Field(default_factory=dict)
    """Spark settings every application gets, under the task's own ``spark_conf``."""
    ui_url_template: str = ""
    """The Spark UI link of a running application: a template with ``{namespace}``, ``{name}`` and
    ``{address}`` (the operator's UI address). Empty: the operator's ingress address if it made one, else its
    in-cluster service address."""

    @field_validator("spark_conf")
    @classmethod
    def _valid_conf(cls, value: dict[str, str]) -> dict[str, str]:
        problems = check_conf(value, {})
        if problems:
            raise ValueError("; ".join(problems))
        return value
