"""``RayJobConfig`` and its parts: flytekitplugins-ray 1.16's names and arguments, and the ``RayJob`` they encode.

A task declared with ``@task(task_config=RayJobConfig(...))`` gets the type ``ray`` and, as
``TaskTemplate.custom``, flyteidl's ``RayJob`` written exactly as flytekitplugins-ray 1.16 writes it (replica
counts clamped the same way, the runtime environment both base64 JSON and YAML, pod templates from
requests and limits), so tasks registered by either SDK read the same on the engine side.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from flyteidl.core import literals_pb2, tasks_pb2
from flyteidl.plugins import ray_pb2
from google.protobuf.json_format import MessageToDict

from roost.options import Resources, resources_proto

__all__ = [
    "AutoscalerOptionsConfig",
    "HeadNodeConfig",
    "RayJobConfig",
    "WorkerNodeConfig",
    "config_problems",
    "ray_job",
]

HEAD_CONTAINER_NAME = "ray-head"
"""The primary container of a head pod built from requests and limits (flytekitplugins-ray's name)."""
WORKER_CONTAINER_NAME = "ray-worker"
"""The primary container of a worker pod built from requests and limits."""
_POD_TEMPLATE_PRIMARY = "primary"
"""flytekit's ``PodTemplate`` default primary container name, which the pod built from resources keeps."""
_K8S_RESOURCE_NAMES = {
    "cpu": "cpu",
    "mem": "memory",
    "gpu": "nvidia.com/gpu",
    "ephemeral_storage": "ephemeral-storage",
}


@dataclass
class HeadNodeConfig:
    """The Ray head: ``ray start`` parameters, and its pod (a pod template, or requests and limits)."""

    ray_start_params: dict[str, str] | None = None
    pod_template: Any = None
    """A ``roost_k8s_pod.PodTemplate`` (or any object with ``pod_spec``, ``primary_container_name``,
    ``labels`` and ``annotations``)."""
    requests: Resources | None = None
    limits: Resources | None = None


@dataclass
class WorkerNodeConfig:
    """A group of Ray workers: its name, how many, the autoscaling bounds, and its pod."""

    group_name: str
    replicas: int
    min_replicas: int | None = None
    max_replicas: int | None = None
    ray_start_params: dict[str, str] | None = None
    pod_template: Any = None
    requests: Resources | None = None
    limits: Resources | None = None


@dataclass
class AutoscalerOptionsConfig:
    """KubeRay's autoscaler sidecar: how eagerly it scales, how long idle workers live, its image and pod."""

    UpscalingMode: ClassVar[Any] = ray_pb2.AutoscalerOptions.UpscalingMode
    upscaling_mode: int | None = None
    """``AutoscalerOptionsConfig.UpscalingMode.UPSCALING_MODE_DEFAULT`` (``_AGGRESSIVE``, ``_CONSERVATIVE``)."""
    idle_timeout_seconds: int | None = None
    env: dict[str, str] | None = None
    image: str | None = None
    requests: Resources | None = None
    limits: Resources | None = None


@dataclass
class RayJobConfig:
    """A Ray job: ``@task(task_config=RayJobConfig(worker_node_config=[WorkerNodeConfig("workers", 2)]))``.

    ``runtime_env`` is Ray's job runtime environment (``pip``, ``env_vars``, ``working_dir``...);
    ``address`` makes the task join an existing Ray cluster instead of the one Roost gives it.
    """

    worker_node_config: list[WorkerNodeConfig]
    head_node_config: HeadNodeConfig | None = None
    enable_autoscaling: bool = False
    autoscaler_options: AutoscalerOptionsConfig | None = None
    runtime_env: dict[str, Any] | None = None
    address: str | None = None
    shutdown_after_job_finishes: bool = False
    ttl_seconds_after_finished: int | None = None


def config_problems(config: object) -> list[str]:
    """What is wrong with a task's Ray configuration, each naming the field (empty when it is valid)."""
    if not isinstance(config, RayJobConfig):
        return [f"task_config must be a RayJobConfig, not {type(config).__name__}"]
    problems: list[str] = []
    workers: object = config.worker_node_config  # checked: users pass anything
    if not isinstance(workers, list | tuple):
        problems.append(
            "RayJobConfig.worker_node_config must be a list of WorkerNodeConfig, "
            f"not {type(workers).__name__}"
        )
        workers = []
    names: set[str] = set()
    given: list[object] = list(workers)
    for index, worker in enumerate(given):
        where = f"RayJobConfig.worker_node_config[{index}]"
        if not isinstance(worker, WorkerNodeConfig):
            problems.append(f"{where} must be a WorkerNodeConfig, not {type(worker).__name__}")
            continue
        if not isinstance(worker.group_name, str) or not worker.group_name:
            problems.append(f"{where}.group_name must be a non-empty string, not {worker.group_name!r}")
        elif worker.group_name in names:
            problems.append(f"{where}.group_name {worker.group_name!r} names two worker groups")
        else:
            names.add(worker.group_name)
        for name in ("replicas", "min_replicas", "max_replicas"):
            value = getattr(worker, name)
            if value is None and name != "replicas":
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                problems.append(f"{where}.{name} must be an integer, not {value!r}")
            elif value < 0:
                problems.append(f"{where}.{name} must not be negative, got {value}")
        low, high = worker.min_replicas, worker.max_replicas
        if isinstance(low, int) and isinstance(high, int) and low > high:
            problems.append(f"{where}: min_replicas ({low}) is greater than max_replicas ({high})")
        problems += _pod_problems(where, worker)
        problems += _params_problems(f"{where}.ray_start_params", worker.ray_start_params)
    head: object = config.head_node_config
    if head is not None:
        if not isinstance(head, HeadNodeConfig):
            problems.append(
                f"RayJobConfig.head_node_config must be a HeadNodeConfig, not {type(head).__name__}"
            )
        else:
            problems += _pod_problems("RayJobConfig.head_node_config", head)
            problems += _params_problems(
                "RayJobConfig.head_node_config.ray_start_params", head.ray_start_params
            )
    ttl = config.ttl_seconds_after_finished
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 0):
        problems.append(
            f"RayJobConfig.ttl_seconds_after_finished must be a non-negative integer, not {ttl!r}"
        )
    env: object = config.runtime_env
    if env is not None:
        if not isinstance(env, Mapping):
            problems.append(f"RayJobConfig.runtime_env must be a dict, not {type(env).__name__}")
        else:
            try:
                json.dumps(env)
            except (TypeError, ValueError) as exc:
                problems.append(f"RayJobConfig.runtime_env must hold only JSON values: {exc}")
    options = config.autoscaler_options
    if options is not None and options.idle_timeout_seconds is not None and options.idle_timeout_seconds < 0:
        problems.append(
            "RayJobConfig.autoscaler_options.idle_timeout_seconds must not be negative, "
            f"got {options.idle_timeout_seconds}"
        )
    return problems


def _pod_problems(where: str, node: HeadNodeConfig | WorkerNodeConfig) -> list[str]:
    if node.pod_template is not None and (node.requests is not None or node.limits is not None):
        return [f"{where}: give either pod_template or requests/limits, not both"]
    for name in ("requests", "limits"):
        value = getattr(node, name)
        if value is not None and not isinstance(value, Resources):
            return [f"{where}.{name} must be a roost.Resources, not {type(value).__name__}"]
    return []


def _params_problems(where: str, params: object) -> list[str]:
    if params is None:
        return []
    if not isinstance(params, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in params.items()
    ):
        return [f"{where} must map strings to strings (as `ray start` flags), not {params!r}"]
    return []


def ray_job(config: RayJobConfig) -> dict[str, Any]:
    """``TaskTemplate.custom`` of a Ray task: the ``RayJob`` message as JSON, as flytekitplugins-ray writes it."""
    runtime_env = None
    runtime_env_yaml = None
    if config.runtime_env:
        import yaml

        runtime_env = base64.b64encode(json.dumps(config.runtime_env).encode()).decode()
        runtime_env_yaml = yaml.dump(config.runtime_env)
    head = None
    if config.head_node_config is not None:
        node = config.head_node_config
        head = ray_pb2.HeadGroupSpec(
            ray_start_params=node.ray_start_params or {},
            k8s_pod=_k8s_pod(node, HEAD_CONTAINER_NAME),
        )
    workers = []
    for worker in config.worker_node_config:
        replicas = worker.replicas
        workers.append(
            ray_pb2.WorkerGroupSpec(
                group_name=worker.group_name,
                replicas=replicas,
                # flytekit keeps replicas within the bounds by widening them.
                min_replicas=replicas if worker.min_replicas is None else min(replicas, worker.min_replicas),
                max_replicas=replicas if worker.max_replicas is None else max(replicas, worker.max_replicas),
                ray_start_params=worker.ray_start_params,
                k8s_pod=_k8s_pod(worker, WORKER_CONTAINER_NAME),
            )
        )
    job = ray_pb2.RayJob(
        ray_cluster=ray_pb2.RayCluster(
            head_group_spec=head,
            worker_group_spec=workers,
            enable_autoscaling=bool(config.enable_autoscaling),
            autoscaler_options=_autoscaler(config.autoscaler_options),
        ),
        runtime_env=runtime_env,
        runtime_env_yaml=runtime_env_yaml,
        ttl_seconds_after_finished=config.ttl_seconds_after_finished,
        shutdown_after_job_finishes=config.shutdown_after_job_finishes,
    )
    return MessageToDict(job)


def _k8s_pod(node: HeadNodeConfig | WorkerNodeConfig, container: str) -> tasks_pb2.K8sPod | None:
    if node.requests is not None or node.limits is not None:
        requests = _k8s_resources(node.requests) or _k8s_resources(node.limits)
        limits = _k8s_resources(node.limits) or requests
        resources = {key: value for key, value in (("limits", limits), ("requests", requests)) if value}
        return _pod_message(
            {"containers": [{"name": container, "resources": resources}]}, _POD_TEMPLATE_PRIMARY, None, None
        )
    template = node.pod_template
    if template is None:
        return None
    spec = template.spec() if callable(getattr(template, "spec", None)) else template.pod_spec
    return _pod_message(
        dict(spec or {}),
        str(getattr(template, "primary_container_name", _POD_TEMPLATE_PRIMARY)),
        getattr(template, "labels", None),
        getattr(template, "annotations", None),
    )


def _pod_message(
    spec: dict[str, Any],
    primary: str,
    labels: Mapping[str, str] | None,
    annotations: Mapping[str, str] | None,
) -> tasks_pb2.K8sPod:
    pod = tasks_pb2.K8sPod(
        metadata=tasks_pb2.K8sObjectMetadata(labels=labels or {}, annotations=annotations or {}),
        primary_container_name=primary,
    )
    pod.pod_spec.update(spec)
    return pod


def _k8s_resources(resources: Resources | None) -> dict[str, Any] | None:
    if resources is None:
        return None
    found = {
        _K8S_RESOURCE_NAMES[name]: getattr(resources, name)
        for name in ("cpu", "mem", "gpu", "ephemeral_storage")
        if getattr(resources, name) is not None
    }
    return found or None


def _autoscaler(options: AutoscalerOptionsConfig | None) -> ray_pb2.AutoscalerOptions | None:
    if options is None:
        return None
    return ray_pb2.AutoscalerOptions(
        upscaling_mode=options.upscaling_mode,
        idle_timeout_seconds=options.idle_timeout_seconds,
        image=options.image,
        env=[literals_pb2.KeyValuePair(key=k, value=v) for k, v in (options.env or {}).items()] or None,
        resources=resources_proto(options.requests, options.limits) or tasks_pb2.Resources(),
    )
