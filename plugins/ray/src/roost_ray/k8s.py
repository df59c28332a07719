"""The ``ray-k8s`` handler: a Ray task as KubeRay's ``ray.io/v1`` ``RayJob`` (needs the ``kubernetes`` extra).

Built on ``roost_k8s_pod``'s toolkit, as Flyte's Ray plugin builds it: the task's pod (``build_pod_spec``, with
every shared Kubernetes default) becomes the head pod (primary container ``ray-head``, Ray's ports,
``MY_POD_IP``), each worker group's pod (``ray-worker``, the downward-API variables, a ``ray stop`` pre-stop hook)
and the submitter pod; a group's own pod (``k8s_pod`` of its spec: a pod template, or requests and limits) is laid
over it. The entrypoint is the task's command line; ``runtimeEnvYAML``, ``shutdownAfterJobFinishes`` and
``ttlSecondsAfterFinished`` come from the ``RayJob`` message (the settings give the defaults Flyte's configuration
gives). The object's name is the machinery's deterministic per-attempt name.

Phases follow KubeRay's ``status.jobDeploymentStatus`` and ``status.jobStatus``: no status yet → QUEUED;
``Initializing`` → INITIALIZING (the cluster is coming up); ``Running`` and ``Retrying`` → RUNNING;
``Suspending``/``Suspended``/``Waiting`` → QUEUED; ``Complete`` → the task's outputs or error document (a job
that ended ``FAILED`` or ``STOPPED`` without one is the user's failure); ``Failed`` → the error document, else
for reason ``AppFailed`` the user's failure, else (submission failed, deadline exceeded, ...) a retryable system
error carrying KubeRay's reason and message; ``ValidationFailed`` → a permanent failure with its message.
While the job runs, the Ray dashboard (``status.dashboardURL``) is a log link.
"""

from __future__ import annotations

import copy
import shlex
from collections.abc import Mapping
from typing import Any

from flyteidl.plugins import ray_pb2
from google.protobuf.json_format import MessageToDict, ParseDict, ParseError

from roost_core.container import ResultKind, completion_transition, read_task_result
from roost_core.errors import ErrorKind
from roost_core.handler import TaskLog, TaskPhase, Transition
from roost_k8s_pod import (
    BuildError,
    K8sHandlerSettings,
    K8sResourceHandler,
    ResourceContext,
    ResourceKind,
    build_pod_spec,
)
from roost_ray.config import HEAD_CONTAINER_NAME, WORKER_CONTAINER_NAME

__all__ = ["RAY_JOB", "RayK8sHandler", "RayK8sSettings"]

RAY_JOB = ResourceKind("ray.io/v1", "RayJob", "rayjobs")
_PORTS = [
    {"name": "redis", "containerPort": 6379},
    {"name": "head", "containerPort": 10001},
    {"name": "dashboard", "containerPort": 8265},
]
_UPSCALING_MODES = {
    ray_pb2.AutoscalerOptions.UPSCALING_MODE_DEFAULT: "Default",
    ray_pb2.AutoscalerOptions.UPSCALING_MODE_CONSERVATIVE: "Conservative",
    ray_pb2.AutoscalerOptions.UPSCALING_MODE_AGGRESSIVE: "Aggressive",
}


class RayK8sSettings(K8sHandlerSettings):
    """``engine.handlers.ray-k8s``: the shared Kubernetes settings plus KubeRay's defaults."""

    include_dashboard: bool = True
    """``include-dashboard`` for heads whose start parameters do not say."""
    dashboard_host: str = "0.0.0.0"
    """``dashboard-host`` for heads whose start parameters do not say."""
    node_ip_address: str = "$MY_POD_IP"
    """``node-ip-address`` for nodes whose start parameters do not say."""
    enable_usage_stats: bool = False
    """When false, nodes get ``disable-usage-stats: true`` unless their start parameters say."""
    shutdown_after_job_finishes: bool = True
    """Delete the Ray cluster when the job ends (a task's ``shutdown_after_job_finishes=True`` always does)."""
    ttl_seconds_after_finished: int = 3600
    """Seconds the cluster lives after the job ended, for tasks that do not ask for shutdown themselves."""
    service_account: str = ""
    """The pods' service account, over the task's."""


class RayK8sHandler(K8sResourceHandler):
    """Runs Ray tasks as KubeRay RayJobs; see the module docstring."""

    name = "ray-k8s"
    resource_kind = RAY_JOB
    settings_class = RayK8sSettings

    def build_resource(self, ctx: ResourceContext) -> dict[str, Any]:
        """The RayJob of the attempt (name, namespace and identity labels are the machinery's)."""
        settings = ctx.settings
        assert isinstance(settings, RayK8sSettings)
        job = _ray_job(ctx)
        pod = build_pod_spec(ctx)
        if settings.service_account:
            pod.spec["serviceAccountName"] = settings.service_account
        primary = _container(pod.spec, pod.primary_container)
        argv = [*primary.get("command", []), *primary.get("args", [])]
        if not argv:
            raise BuildError(f"{ctx.describe()}: the task has no command to run as the Ray job's entrypoint")
        cluster = job.ray_cluster
        head_params = dict(cluster.head_group_spec.ray_start_params)
        head_params.setdefault("include-dashboard", str(settings.include_dashboard).lower())
        head_params.setdefault("dashboard-host", settings.dashboard_host)
        cluster_spec: dict[str, Any] = {
            "headGroupSpec": {
                "rayStartParams": self._node_params(head_params),
                "template": _node_template(
                    pod.spec,
                    pod.metadata,
                    pod.primary_container,
                    HEAD_CONTAINER_NAME,
                    cluster.head_group_spec,
                ),
            },
            "workerGroupSpecs": [],
            "enableInTreeAutoscaling": cluster.enable_autoscaling,
        }
        if cluster.HasField("autoscaler_options"):
            cluster_spec["autoscalerOptions"] = _autoscaler(cluster.autoscaler_options)
        for group in cluster.worker_group_spec:
            cluster_spec["workerGroupSpecs"].append(
                {
                    "groupName": group.group_name,
                    "replicas": group.replicas,
                    "minReplicas": min(group.min_replicas, group.replicas),
                    "maxReplicas": max(group.max_replicas, group.replicas),
                    "rayStartParams": self._node_params(dict(group.ray_start_params)),
                    "template": _node_template(
                        pod.spec, pod.metadata, pod.primary_container, WORKER_CONTAINER_NAME, group
                    ),
                }
            )
        shutdown = settings.shutdown_after_job_finishes or job.shutdown_after_job_finishes
        ttl = (
            job.ttl_seconds_after_finished
            if job.shutdown_after_job_finishes
            else settings.ttl_seconds_after_finished
        )
        spec: dict[str, Any] = {
            "entrypoint": shlex.join(argv),
            "rayClusterSpec": cluster_spec,
            "shutdownAfterJobFinishes": shutdown,
            "ttlSecondsAfterFinished": ttl,
            "submitterPodTemplate": {
                "metadata": copy.deepcopy(pod.metadata),
                "spec": copy.deepcopy(pod.spec),
            },
        }
        runtime_env = _runtime_env_yaml(job)
        if runtime_env:
            spec["runtimeEnvYAML"] = runtime_env
        return {"apiVersion": RAY_JOB.api_version, "kind": RAY_JOB.kind, "spec": spec}

    def _node_params(self, params: dict[str, str]) -> dict[str, str]:
        settings = self.settings
        assert isinstance(settings, RayK8sSettings)
        params.setdefault("node-ip-address", settings.node_ip_address)
        if not settings.enable_usage_stats:
            params.setdefault("disable-usage-stats", "true")
        return params

    def phase_of(self, ctx: ResourceContext, obj: Mapping[str, Any]) -> Transition:
        """The attempt's phase from KubeRay's status (see the module docstring)."""
        return ray_job_phase(ctx, obj)

    def log_variables(self, ctx: ResourceContext, obj: Mapping[str, Any]) -> dict[str, str]:
        """The machinery's variables, plus ``rayClusterName`` and ``rayJobID``."""
        status = obj.get("status") or {}
        return {
            **super().log_variables(ctx, obj),
            "rayClusterName": str(status.get("rayClusterName", "")),
            "rayJobID": str(status.get("jobId", "")),
        }


def ray_job_phase(ctx: ResourceContext, obj: Mapping[str, Any]) -> Transition:
    """KubeRay's ``jobDeploymentStatus`` and ``jobStatus`` as the attempt's phase."""
    status = obj.get("status") or {}
    deployment = str(status.get("jobDeploymentStatus", ""))
    job_status = str(status.get("jobStatus", ""))
    reason = str(status.get("reason", ""))
    message = str(status.get("message", ""))
    name = (obj.get("metadata") or {}).get("name", ctx.name)
    said = f"[{reason}] {message}".strip() if reason or message else "no message"
    if deployment == "":
        return Transition.queued(reason="Scheduling")
    if deployment == "Initializing":
        return Transition(TaskPhase.INITIALIZING, reason="the Ray cluster is being created")
    if deployment in ("Running", "Retrying"):
        logs: tuple[TaskLog, ...] = ()
        if job_status == "RUNNING" and status.get("dashboardURL"):
            logs = (TaskLog("Ray dashboard", _url(str(status["dashboardURL"]))),)
        return Transition.running(reason=f"Ray job {job_status or 'PENDING'}", logs=logs)
    if deployment in ("Suspending", "Suspended", "Waiting"):
        return Transition.queued(reason=deployment)
    if deployment == "ValidationFailed":
        return Transition.failure(
            "RayJobValidationFailed",
            f"{ctx.describe()}: KubeRay refused RayJob {name}: {said}",
            retryable=False,
        )
    if deployment not in ("Complete", "Failed"):
        return Transition.failure(
            "UnknownRayJobStatus",
            f"{ctx.describe()}: RayJob {name} has an unknown jobDeploymentStatus {deployment!r}",
            kind=ErrorKind.SYSTEM,
        )
    result = read_task_result(ctx.task_context.storage, ctx.task_context.output_prefix)
    if result.kind is ResultKind.ERROR or (deployment == "Complete" and job_status in ("", "SUCCEEDED")):
        return completion_transition(result, ctx.task)
    if deployment == "Complete" or reason == "AppFailed":
        return Transition.failure(
            "RayJobFailed",
            f"{ctx.describe()}: Ray job of RayJob {name} ended {job_status or 'FAILED'}: {said}",
        )
    return Transition.failure(
        "RayJobFailed",
        f"{ctx.describe()}: KubeRay failed RayJob {name}: {said}",
        kind=ErrorKind.SYSTEM,
    )


def _url(address: str) -> str:
    return address if "://" in address else f"http://{address}"


def _ray_job(ctx: ResourceContext) -> ray_pb2.RayJob:
    try:
        return ParseDict(MessageToDict(ctx.task.custom), ray_pb2.RayJob())
    except ParseError as exc:
        raise BuildError(f"{ctx.describe()}: its custom is not a RayJob: {exc}") from None


def _runtime_env_yaml(job: ray_pb2.RayJob) -> str:
    if job.runtime_env_yaml:
        return str(job.runtime_env_yaml)
    if not job.runtime_env:
        return ""
    import base64
    import json

    import yaml

    return str(yaml.safe_dump(json.loads(base64.b64decode(job.runtime_env))))


def _container(spec: Mapping[str, Any], name: str) -> dict[str, Any]:
    for container in spec.get("containers", []):
        if isinstance(container, dict) and container.get("name") == name:
            return container
    raise BuildError(f"the pod spec has no container {name!r}")


def _node_template(
    base: Mapping[str, Any],
    metadata: Mapping[str, Any],
    primary: str,
    container_name: str,
    group: ray_pb2.HeadGroupSpec | ray_pb2.WorkerGroupSpec,
) -> dict[str, Any]:
    """A head or worker pod: the task's pod with the primary container made a Ray node, the group's pod over it."""
    spec = copy.deepcopy(dict(base))
    container = _container(spec, primary)
    container["name"] = container_name
    container["args"] = []
    container.pop("command", None)
    env = container.setdefault("env", [])
    env.append({"name": "MY_POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}})
    if container_name == WORKER_CONTAINER_NAME:
        env += [
            {"name": "RAY_DISABLE_DOCKER_CPU_WARNING", "value": "1"},
            {"name": "TYPE", "value": "worker"},
            {"name": "MY_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        ]
        container["lifecycle"] = {"preStop": {"exec": {"command": ["/bin/sh", "-c", "ray stop"]}}}
    container["ports"] = [*container.get("ports", []), *_PORTS]
    labels = dict(metadata.get("labels") or {})
    annotations = dict(metadata.get("annotations") or {})
    if group.HasField("k8s_pod"):
        overlay = MessageToDict(group.k8s_pod.pod_spec)
        spec = _overlay(spec, overlay, container_name, group.k8s_pod.primary_container_name)
        labels.update(group.k8s_pod.metadata.labels)
        annotations.update(group.k8s_pod.metadata.annotations)
    template_metadata: dict[str, Any] = {}
    if labels:
        template_metadata["labels"] = labels
    if annotations:
        template_metadata["annotations"] = annotations
    return {"metadata": template_metadata, "spec": spec}


def _overlay(base: dict[str, Any], overlay: Mapping[str, Any], node: str, primary: str) -> dict[str, Any]:
    """The group's pod spec laid over the node's: its fields win; its container named as the node's container
    (or as its primary container) is merged into the node's, field by field; other containers are added."""
    merged = {**base, **{k: v for k, v in overlay.items() if k != "containers"}}
    containers = [dict(c) for c in base.get("containers", [])]
    for given in overlay.get("containers", []):
        # flytekit names the container of a group's resources ray-head/ray-worker, with primary "primary".
        mine = given.get("name") in (node, primary)
        target = next((c for c in containers if c.get("name") == node), None) if mine else None
        if target is None:
            containers.append(dict(given))
            continue
        for key, value in given.items():
            if key == "name":
                continue
            if key == "resources":
                target["resources"] = value
            elif key == "env":
                target["env"] = [*target.get("env", []), *value]
            else:
                target[key] = value
    merged["containers"] = containers
    return merged


def _autoscaler(options: ray_pb2.AutoscalerOptions) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if options.idle_timeout_seconds > 0:
        result["idleTimeoutSeconds"] = options.idle_timeout_seconds
    mode = _UPSCALING_MODES.get(options.upscaling_mode)
    if mode:
        result["upscalingMode"] = mode
    if options.image:
        result["image"] = options.image
    if options.env:
        result["env"] = [{"name": pair.key, "value": pair.value} for pair in options.env]
    resources: dict[str, dict[str, str]] = {}
    names = {1: "cpu", 2: "nvidia.com/gpu", 3: "memory", 5: "ephemeral-storage"}
    for part, entries in (("requests", options.resources.requests), ("limits", options.resources.limits)):
        for entry in entries:
            if entry.name in names:
                resources.setdefault(part, {})[names[entry.name]] = entry.value
    if resources:
        result["resources"] = resources
    return result
