"""``Spark(...)``, the task config of Spark tasks, and its ``TaskTemplate.custom``: flyteidl's ``SparkJob``.

The names, defaults and encoding are flytekitplugins-spark 1.16's, so a flytekit task ports by changing its
import and the engine side reads what flytekit registers. ``custom`` is ``SparkJob`` as JSON (protobuf's
JSON names), with an empty ``databricksConf`` as flytekit always writes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from roost_spark.conf import check_conf

if TYPE_CHECKING:
    from roost_k8s_pod import PodTemplate

__all__ = ["DEFAULT_APPLICATION_FILE", "DEFAULT_EXECUTOR_PATH", "Spark", "SparkConfigError", "spark_job"]

DEFAULT_EXECUTOR_PATH = "/opt/venv/bin/python3"
"""The Python of the driver and executors when the task names none: flytekit's default interpreter."""
DEFAULT_APPLICATION_FILE = "local:///opt/venv/bin/entrypoint.py"
"""The driver's main file when the task names none: flytekit's default entrypoint file, the path where a
Spark image keeps the program that runs the task's command (``roost_spark.entrypoint`` is Roost's)."""


class SparkConfigError(ValueError):
    """A ``Spark(...)`` argument that cannot work; the message names the argument and what to write."""


@dataclass
class Spark:
    """Run the task with a Spark session: ``@task(task_config=Spark(spark_conf={...}))``.

    - ``spark_conf``: Spark settings (``spark.*`` keys, string values), for the session of a local run and
      the SparkApplication on Kubernetes;
    - ``hadoop_conf``: Hadoop settings (string values), given to Spark as ``spark.hadoop.<key>``;
    - ``executor_path``: the Python of the driver and executors on Kubernetes;
    - ``applications_path``: the driver's main file on Kubernetes;
    - ``driver_pod``, ``executor_pod``: pod templates (``roost_k8s_pod.PodTemplate``) for the driver and
      executor pods on Kubernetes.

    Inside the task, ``current_context().spark_session`` is the session.
    """

    spark_conf: dict[str, str] | None = None
    hadoop_conf: dict[str, str] | None = None
    executor_path: str | None = None
    applications_path: str | None = None
    driver_pod: PodTemplate | None = None
    executor_pod: PodTemplate | None = None

    def __post_init__(self) -> None:
        if self.spark_conf is None:
            self.spark_conf = {}
        if self.hadoop_conf is None:
            self.hadoop_conf = {}
        for name in ("spark_conf", "hadoop_conf"):
            value = getattr(self, name)
            if not isinstance(value, Mapping):
                raise SparkConfigError(
                    f"Spark({name}=...) must be a dict of strings, not {type(value).__name__}"
                )
            setattr(self, name, dict(value))
        problems = check_conf(self.spark_conf, self.hadoop_conf)
        if problems:
            raise SparkConfigError("Spark(...): " + "; ".join(problems))
        for name in ("executor_path", "applications_path"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise SparkConfigError(f"Spark({name}=...) must be a string, not {value!r}")
        for name in ("driver_pod", "executor_pod"):
            value = getattr(self, name)
            if value is not None and not hasattr(value, "primary_container_name"):
                raise SparkConfigError(
                    f"Spark({name}=...) takes a PodTemplate (from roost_k8s_pod), not {type(value).__name__}"
                )


def _k8s_pod(template: PodTemplate) -> dict[str, Any]:
    """``K8sPod`` as JSON, as flytekit's ``K8sPod.from_pod_template`` makes it: the pod spec as written (an
    absent spec is ``{"containers": []}``), the labels and annotations, the primary container's name."""
    spec = template.spec() if template.pod_spec is not None else {"containers": []}
    metadata: dict[str, Any] = {}
    if template.labels:
        metadata["labels"] = dict(template.labels)
    if template.annotations:
        metadata["annotations"] = dict(template.annotations)
    return {"metadata": metadata, "podSpec": spec, "primaryContainerName": template.primary_container_name}


def spark_job(config: Spark) -> dict[str, Any]:
    """``TaskTemplate.custom`` of a task with ``config``: ``SparkJob`` as flytekitplugins-spark encodes it."""
    job: dict[str, Any] = {
        "databricksConf": {},
        "executorPath": config.executor_path or DEFAULT_EXECUTOR_PATH,
        "mainApplicationFile": config.applications_path or DEFAULT_APPLICATION_FILE,
    }
    if config.spark_conf:
        job["sparkConf"] = dict(config.spark_conf)
    if config.hadoop_conf:
        job["hadoopConf"] = dict(config.hadoop_conf)
    if config.driver_pod is not None:
        job["driverPod"] = _k8s_pod(config.driver_pod)
    if config.executor_pod is not None:
        job["executorPod"] = _k8s_pod(config.executor_pod)
    return job
