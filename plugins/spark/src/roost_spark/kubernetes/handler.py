"""The ``spark-kubernetes`` handler: a Spark task as a spark-operator ``SparkApplication`` (v1beta2).

The application is built from the task's pod (``roost_k8s_pod.build_pod_spec``: image, rendered command
line, environment, resources, tolerations, selectors, pod templates, every shared Kubernetes default) and
its ``SparkJob``:

- ``type: Python``, ``mode: cluster``, ``restartPolicy: Never`` (the engine retries, not the operator);
  ``mainApplicationFile`` and the Python of driver and executors from the ``SparkJob``; ``arguments`` the
  task's command line (``roost-execute ...``, ``pyflyte-execute ...``), which the main file runs;
- ``sparkConf``: the handler's ``spark_conf`` under the task's, ``hadoopConf`` the task's;
- driver: cores and memory from the task's requests (core limit from its limit), its environment,
  labels, annotations, tolerations, node selector, affinity and service account; the ``SparkJob``'s
  ``driverPod`` as its pod ``template``;
- executors: ``spark.executor.instances`` (default 1), cores and memory from ``spark.executor.*`` or else
  the driver's, the same environment and scheduling, the ``executorPod`` as their template.

Names are the machinery's deterministic per-attempt names. Phases come from the operator's application
state (:mod:`roost_spark.kubernetes.status`); a completed application's outcome is what the task left in
its output prefix (outputs or its error document). Abort deletes the application (the operator then
deletes its pods); the running application's Spark UI is a log link.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from roost_core.extend import (
    ErrorKind,
    TaskLog,
    Transition,
    completion_transition,
    read_task_result,
)
from roost_k8s_pod import BuildError, K8sResourceHandler, ResourceContext, ResourceKind, build_pod_spec
from roost_spark.conf import check_conf
from roost_spark.config import DEFAULT_APPLICATION_FILE, DEFAULT_EXECUTOR_PATH
from roost_spark.kubernetes.settings import SparkKubernetesSettings
from roost_spark.kubernetes.status import AppPhase, read_status

__all__ = ["SPARK_APPLICATION", "SparkKubernetesHandler", "spark_memory"]

SPARK_APPLICATION = ResourceKind("sparkoperator.k8s.io/v1beta2", "SparkApplication", "sparkapplications")
_QUANTITY = re.compile(r"^([0-9.]+)([A-Za-z]*)$")
_FACTORS = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}


def spark_memory(quantity: str) -> str:
    """A Kubernetes memory quantity (``1Gi``, ``512M``) in Spark's form: whole mebibytes, ``1024m``."""
    match = _QUANTITY.match(quantity.strip())
    if match is None or match.group(2) not in _FACTORS:
        raise BuildError(f"memory {quantity!r} is not a Kubernetes quantity such as '1Gi' or '512Mi'")
    mebibytes = math.ceil(float(match.group(1)) * _FACTORS[match.group(2)] / 2**20)
    return f"{max(1, mebibytes)}m"


def _cores(quantity: str) -> int:
    text = str(quantity)
    value = float(text[:-1]) / 1000 if text.endswith("m") else float(text)
    return max(1, math.ceil(value))


class SparkKubernetesHandler(K8sResourceHandler):
    """Runs ``spark`` tasks as SparkApplications; see the module docstring."""

    resource_kind = SPARK_APPLICATION
    settings_class = SparkKubernetesSettings

    def build_resource(self, ctx: ResourceContext) -> dict[str, Any]:
        """The SparkApplication of the attempt."""
        from roost_spark.local import read_spark_job

        settings = ctx.settings
        assert isinstance(settings, SparkKubernetesSettings)
        try:
            job = read_spark_job(ctx.task_context)
        except ValueError as exc:
            raise BuildError(str(exc)) from None
        problems = check_conf(dict(job.sparkConf), dict(job.hadoopConf))
        if problems:
            raise BuildError(
                "; ".join(problems) + "; fix the task's Spark(...) config",
                code="BadSparkConf",
            )
        pod = build_pod_spec(ctx)
        spec = pod.spec
        container = next(c for c in spec["containers"] if c.get("name") == pod.primary_container)
        arguments = [*container.get("command", []), *container.get("args", [])]
        if not arguments:
            raise BuildError("the task has no command line for the Spark driver to run")
        python = job.executorPath or DEFAULT_EXECUTOR_PATH
        spark_conf = {
            **settings.spark_conf,
            **job.sparkConf,
            "spark.pyspark.python": python,
            "spark.pyspark.driver.python": python,
        }
        driver = self._driver(container, spec, pod.metadata)
        executor = self._executor(driver, dict(job.sparkConf))
        if job.HasField("driverPod"):
            driver["template"] = _template(job.driverPod)
        if job.HasField("executorPod"):
            executor["template"] = _template(job.executorPod)
        application: dict[str, Any] = {
            "apiVersion": SPARK_APPLICATION.api_version,
            "kind": SPARK_APPLICATION.kind,
            "metadata": {"labels": dict(pod.metadata.get("labels") or {})},
            "spec": {
                "type": "Python",
                "pythonVersion": "3",
                "mode": "cluster",
                "image": container["image"],
                "mainApplicationFile": job.mainApplicationFile or DEFAULT_APPLICATION_FILE,
                "arguments": arguments,
                "sparkVersion": settings.spark_version,
                "sparkConf": spark_conf,
                "restartPolicy": {"type": "Never"},
                "driver": driver,
                "executor": executor,
            },
        }
        if "imagePullPolicy" in container:
            application["spec"]["imagePullPolicy"] = container["imagePullPolicy"]
        if job.hadoopConf:
            application["spec"]["hadoopConf"] = dict(job.hadoopConf)
        if spec.get("imagePullSecrets"):
            application["spec"]["imagePullSecrets"] = [s["name"] for s in spec["imagePullSecrets"]]
        return application

    def _driver(
        self, container: Mapping[str, Any], spec: Mapping[str, Any], metadata: Mapping[str, Any]
    ) -> dict[str, Any]:
        resources = container.get("resources") or {}
        requests = {**(resources.get("limits") or {}), **(resources.get("requests") or {})}
        limits = resources.get("limits") or {}
        driver: dict[str, Any] = {"cores": _cores(requests.get("cpu", "1"))}
        if "cpu" in limits:
            driver["coreLimit"] = str(limits["cpu"])
        if "memory" in requests:
            driver["memory"] = spark_memory(str(requests["memory"]))
        if container.get("env"):
            driver["env"] = [dict(e) for e in container["env"]]
        for key in ("labels", "annotations"):
            if metadata.get(key):
                driver[key] = dict(metadata[key])
        for key in ("tolerations", "nodeSelector", "affinity"):
            if spec.get(key):
                driver[key] = spec[key]
        if spec.get("serviceAccountName"):
            driver["serviceAccount"] = spec["serviceAccountName"]
        return driver

    def _executor(self, driver: Mapping[str, Any], spark_conf: Mapping[str, str]) -> dict[str, Any]:
        executor: dict[str, Any] = {
            "instances": int(spark_conf.get("spark.executor.instances", "1")),
            "cores": int(spark_conf.get("spark.executor.cores", driver["cores"])),
        }
        memory = spark_conf.get("spark.executor.memory") or driver.get("memory")
        if memory:
            executor["memory"] = memory
        for key in ("env", "labels", "annotations", "tolerations", "nodeSelector", "affinity"):
            if key in driver:
                executor[key] = driver[key]
        return executor

    def phase_of(self, ctx: ResourceContext, obj: Mapping[str, Any]) -> Transition:
        """The operator's application state as the attempt's phase."""
        status = read_status(obj)
        if status.phase is AppPhase.QUEUED:
            return Transition.queued(reason="the SparkApplication waits for the spark-operator")
        if status.phase is AppPhase.INITIALIZING:
            return Transition.queued(reason=f"the SparkApplication is submitted: {status.describe()}")
        logs = self._ui_links(ctx, status.ui_address)
        if status.phase is AppPhase.RUNNING:
            return Transition.running(reason=f"the SparkApplication runs: {status.describe()}", logs=logs)
        storage = ctx.task_context.storage
        result = read_task_result(storage, ctx.task_context.output_prefix)
        if status.phase is AppPhase.COMPLETED or result.error is not None:
            # The task's own error document explains a failed driver better than the operator can.
            return completion_transition(result, ctx.task, logs=logs)
        if status.phase is AppPhase.SUBMISSION_FAILED:
            return Transition.failure(
                "SparkSubmissionFailed",
                f"{ctx.describe()}: the spark-operator could not submit SparkApplication "
                f"{ctx.namespace}/{ctx.name}: {status.error_message or 'no reason given'}",
                kind=ErrorKind.SYSTEM,
                logs=logs,
            )
        return Transition.failure(
            "SparkApplicationFailed",
            f"{ctx.describe()}: SparkApplication {ctx.namespace}/{ctx.name} failed: "
            f"{status.error_message or 'no reason given'}",
            logs=logs,
        )

    def _ui_links(self, ctx: ResourceContext, address: str) -> tuple[TaskLog, ...]:
        settings = ctx.settings
        assert isinstance(settings, SparkKubernetesSettings)
        if settings.ui_url_template:
            url = settings.ui_url_template.format(namespace=ctx.namespace, name=ctx.name, address=address)
        elif address:
            url = address if "://" in address else f"http://{address}"
        else:
            return ()
        return (TaskLog("Spark Driver UI", url),)


def _template(pod: Any) -> dict[str, Any]:
    """A ``K8sPod`` of the SparkJob as a pod template (metadata and spec)."""
    from google.protobuf.json_format import MessageToDict

    given = MessageToDict(pod)
    template: dict[str, Any] = {"spec": given.get("podSpec") or {}}
    metadata = given.get("metadata") or {}
    if metadata:
        template["metadata"] = metadata
    return template
