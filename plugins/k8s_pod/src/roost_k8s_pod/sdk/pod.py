"""Pod tasks on the SDK side: ``PodTemplate``, the ``Pod`` task config and the task class it makes.

A :class:`PodTemplate` is a pod spec (Kubernetes JSON as a mapping, or the ``kubernetes`` client's
``V1PodSpec``) plus the name of the container that runs the task. The task's own container (image,
command and args, resources, environment) is merged into that primary container, as flytekit does, so
the task runs as usual while the pod gets the sidecars, volumes, tolerations and the like of the spec.
The ``kubernetes`` client is imported only to read its objects, when a user passes them.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flyteidl.core import tasks_pb2
from google.protobuf import struct_pb2
from google.protobuf.json_format import MessageToDict

from roost.errors import WorkflowDefinitionError
from roost.tasks import FunctionTask, TaskOptions

if TYPE_CHECKING:
    from roost.serialize import SerializationSettings

__all__ = ["PRIMARY_CONTAINER_KEY", "PRIMARY_CONTAINER_NAME", "Pod", "PodTask", "PodTemplate"]

PRIMARY_CONTAINER_NAME = "primary"
"""The primary container's name when none is given (flytekit's default)."""
PRIMARY_CONTAINER_KEY = "primary_container_name"
"""The ``TaskTemplate.config`` key naming the primary container."""


@dataclass(frozen=True)
class PodTemplate:
    """A pod spec for a task or a node: ``PodTemplate(pod_spec={...}, primary_container_name="primary")``.

    ``pod_spec`` is the pod spec as Kubernetes JSON (camelCase keys, as in a manifest) or a
    ``kubernetes.client.V1PodSpec``; None is an empty spec. The container named
    ``primary_container_name`` (added if the spec has none) gets the task's image (unless it names its
    own), command, args, resources and environment. ``labels`` and ``annotations`` go on the pod.
    Use it with ``ContainerTask(pod_template=...)`` and ``node.with_overrides(pod_template=...)``.
    """

    pod_spec: Any = None
    primary_container_name: str = PRIMARY_CONTAINER_NAME
    labels: Mapping[str, str] | None = None
    annotations: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.primary_container_name, str) or not self.primary_container_name:
            raise WorkflowDefinitionError(
                f"PodTemplate: primary_container_name must be a non-empty string, not {self.primary_container_name!r}"
            )
        for field_name in ("labels", "annotations"):
            value = getattr(self, field_name)
            if value is not None and not (
                isinstance(value, Mapping)
                and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
            ):
                raise WorkflowDefinitionError(
                    f"PodTemplate: {field_name} must map strings to strings, not {value!r}"
                )
        self.spec()  # a spec that cannot be read fails here, where it was written

    def spec(self) -> dict[str, Any]:
        """The pod spec as Kubernetes JSON (a copy the caller may change)."""
        return _spec_json(self.pod_spec)

    def k8s_pod(
        self, container: tasks_pb2.Container, *, keep_image: bool = True, raw: bool = False
    ) -> tasks_pb2.K8sPod:
        """The ``K8sPod`` of a task whose own container is ``container``, merged into the primary one.

        With ``keep_image`` an image the primary container names wins over the task's (flytekit's
        ``PodTemplate``); without, the task's image always wins (flytekit's ``Pod`` plugin). For a
        ``raw`` container empty args are left out, as flytekit leaves out a ContainerTask's missing ones.
        """
        env = [{"name": pair.key, "value": pair.value} for pair in container.env]
        return self._k8s_pod(
            container.image,
            list(container.command),
            list(container.args) if container.args or not raw else None,
            _resources_json(container.resources),
            env,
            keep_image=keep_image,
        )

    def task_node_override(self, task: tasks_pb2.TaskTemplate) -> tasks_pb2.K8sPod:
        """The ``TaskNodeOverrides.pod_template`` of a node running ``task`` (what the serializer asks for):
        this spec with the task's container merged into its primary container, as flytekit does."""
        if task.HasField("container"):
            pod = self.k8s_pod(task.container, raw=task.type == "raw-container")
        else:
            primary = _task_primary_container(task)
            env = [e for e in primary.get("env") or () if isinstance(e, Mapping)]
            pod = self._k8s_pod(
                str(primary.get("image", "")),
                primary.get("command"),
                primary.get("args"),
                dict(primary.get("resources") or {}),
                env,
                keep_image=True,
            )
        pod.primary_container_name = self.primary_container_name
        return pod

    def _k8s_pod(
        self,
        image: str,
        command: list[str] | None,
        args: list[str] | None,
        resources: dict[str, Any],
        env: list[Any],
        *,
        keep_image: bool,
    ) -> tasks_pb2.K8sPod:
        spec = self.spec()
        containers = spec.setdefault("containers", [])
        primary = next((c for c in containers if c.get("name") == self.primary_container_name), None)
        if primary is None:
            primary = {"name": self.primary_container_name}
            containers.append(primary)
        if not keep_image or not primary.get("image"):
            primary["image"] = image
        for key, value in (("command", command), ("args", args)):
            if value is None:
                primary.pop(key, None)  # flytekit assigns None, which drops the template's value too
            else:
                primary[key] = list(value)
        if resources.get("limits") or resources.get("requests"):
            primary["resources"] = resources
        primary["env"] = [*copy.deepcopy(env), *(primary.get("env") or [])]
        pod_spec = struct_pb2.Struct()
        pod_spec.update(spec)
        pod = tasks_pb2.K8sPod(pod_spec=pod_spec)
        pod.metadata.labels.update(self.labels or {})
        pod.metadata.annotations.update(self.annotations or {})
        return pod


@dataclass(frozen=True)
class Pod:
    """The task config of a Python task that runs in a custom pod: ``@task(task_config=Pod(...))``.

    ``pod_template`` is a :class:`PodTemplate`, or a pod spec (a mapping or a ``V1PodSpec``) with
    ``primary_container_name`` (default ``"primary"``), ``labels`` and ``annotations`` given here.
    Serialized as flytekit's Pod plugin does: a ``sidecar`` task (version 2) whose ``k8s_pod`` holds the
    spec, the task's container merged into the primary one. Locally the function simply runs.
    """

    pod_template: Any = None
    primary_container_name: str | None = None
    labels: Mapping[str, str] | None = None
    annotations: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        self.template()  # check now, where the task is defined

    def template(self) -> PodTemplate:
        """The pod template this config stands for."""
        given = self.pod_template
        if isinstance(given, PodTemplate):
            primary = given.primary_container_name
            if self.primary_container_name and self.primary_container_name != primary:
                raise WorkflowDefinitionError(
                    f"Pod: primary_container_name {self.primary_container_name!r} differs from the PodTemplate's "
                    f"{primary!r}; name the primary container in one place"
                )
            return PodTemplate(
                given.pod_spec,
                primary,
                {**(given.labels or {}), **(self.labels or {})},
                {**(given.annotations or {}), **(self.annotations or {})},
            )
        return PodTemplate(
            given, self.primary_container_name or PRIMARY_CONTAINER_NAME, self.labels, self.annotations
        )


class PodTask(FunctionTask):
    """A Python function task whose pod comes from a :class:`Pod` config (flytekit's ``PodFunctionTask``)."""

    task_type = "sidecar"
    task_type_version = 2

    def __init__(
        self, fn: Callable[..., Any], options: TaskOptions | None = None, task_config: Any = None
    ) -> None:
        if not isinstance(task_config, Pod):
            raise WorkflowDefinitionError(
                f"task {fn.__name__!r}: a pod task needs a Pod task_config, not {type(task_config).__name__}"
            )
        super().__init__(fn, options, task_config)
        self.pod = task_config.template()

    def template(self, settings: SerializationSettings) -> tasks_pb2.TaskTemplate:
        """A python task template whose container moved into the pod spec's primary container."""
        template = super().template(settings)
        pod = self.pod.k8s_pod(template.container, keep_image=False)
        template.ClearField("container")
        template.k8s_pod.CopyFrom(pod)
        template.config[PRIMARY_CONTAINER_KEY] = self.pod.primary_container_name
        return template


def _spec_json(value: Any) -> dict[str, Any]:
    if value is None:
        return {"containers": []}
    if isinstance(value, Mapping):
        try:
            spec = json.loads(json.dumps(value))
        except (TypeError, ValueError) as exc:
            raise WorkflowDefinitionError(
                f"PodTemplate: pod_spec must hold only JSON values (strings, numbers, booleans, lists, "
                f"mappings): {exc}"
            ) from None
    elif type(value).__module__.startswith("kubernetes.client"):
        from kubernetes.client import ApiClient  # type: ignore[import-untyped,unused-ignore]

        spec = ApiClient().sanitize_for_serialization(value)
        if not isinstance(spec, dict) or type(value).__name__ != "V1PodSpec":
            raise WorkflowDefinitionError(
                f"PodTemplate: pod_spec must be a V1PodSpec, not a {type(value).__name__}"
            )
    else:
        raise WorkflowDefinitionError(
            "PodTemplate: pod_spec must be a mapping (the pod spec as Kubernetes JSON) or a "
            f"kubernetes.client.V1PodSpec, not {type(value).__name__}"
        )
    containers = spec.get("containers", [])
    if not isinstance(containers, list):
        raise WorkflowDefinitionError(f"PodTemplate: pod_spec.containers must be a list, not {containers!r}")
    for index, container in enumerate(containers):
        if not isinstance(container, dict) or not isinstance(container.get("name"), str):
            raise WorkflowDefinitionError(
                f"PodTemplate: pod_spec.containers[{index}] must be a mapping with a name, not {container!r}"
            )
    return dict(spec)


def _resources_json(resources: tasks_pb2.Resources) -> dict[str, dict[str, str]]:
    """Kubernetes resource requirements from flyteidl's, named as flytekit names them (EPHEMERAL_STORAGE →
    ``ephemeral-storage``; the Pod handler renames ``gpu``)."""

    def name(entry: tasks_pb2.Resources.ResourceEntry) -> str:
        return str(tasks_pb2.Resources.ResourceName.Name(entry.name)).lower().replace("_", "-")

    return {
        "limits": {name(e): e.value for e in resources.limits},
        "requests": {name(e): e.value for e in resources.requests},
    }


def _task_primary_container(task: tasks_pb2.TaskTemplate) -> dict[str, Any]:
    name = task.config.get(PRIMARY_CONTAINER_KEY) or task.k8s_pod.primary_container_name
    spec = MessageToDict(task.k8s_pod.pod_spec) if task.HasField("k8s_pod") else {}
    for container in spec.get("containers") or ():
        if isinstance(container, dict) and container.get("name") == name:
            return container
    raise WorkflowDefinitionError(
        f"task {task.id.name!r} has neither a container nor a primary container {name!r} in a pod spec, "
        "so a pod_template override has no command to run"
    )
