"""Task resource defaults and limits (Flyte's TASK_RESOURCE attribute) applied to task templates.

The rules are flytepropeller's: a resource the task does not request is requested at the default (never a
GPU); a limit the task does not set is its request; then requests and limits above the limit are lowered to
it, and a request above its own limit to that limit. A container task gets them on its container; a pod task
(a ``k8s_pod`` target) on its primary container, while its other containers are only kept within the limits
(flytepropeller's ``MergeExistingResources`` and ``EnsureExistingResourcesInRange`` modes).

The admin applies them to an execution's closure when the execution is created, the engine to the tasks a
dynamic node generates (from :attr:`ExecutionOptions.task_resources
<roost_core.engine.config.ExecutionOptions.task_resources>`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flyteidl.core import compiler_pb2, tasks_pb2
from google.protobuf import json_format

from roost_core.quantity import QuantityError, parse_quantity

__all__ = ["RESOURCES", "TaskResourceError", "settle_closure", "settle_task"]

RESOURCES = ("cpu", "gpu", "memory", "storage", "ephemeral_storage")
"""The resources a TASK_RESOURCE attribute sets, by their ``TaskResourceSpec`` field names."""

_CONTAINER_NAMES = {
    "cpu": tasks_pb2.Resources.CPU,
    "gpu": tasks_pb2.Resources.GPU,
    "memory": tasks_pb2.Resources.MEMORY,
    "storage": tasks_pb2.Resources.STORAGE,
    "ephemeral_storage": tasks_pb2.Resources.EPHEMERAL_STORAGE,
}
_POD_NAMES = {
    "cpu": ("cpu",),
    "gpu": ("nvidia.com/gpu", "gpu"),
    "memory": ("memory",),
    "storage": ("storage",),
    "ephemeral_storage": ("ephemeral-storage",),
}
"""Kubernetes names in a pod spec; a GPU is named as the Pod handler names it (``gpu`` or the vendor's)."""
_NO_DEFAULT_REQUEST = {"gpu"}
"""Resources never requested by default (Flyte gives a task a GPU only when it asks for one)."""
_PRIMARY_CONTAINER_KEY = "primary_container_name"


class TaskResourceError(ValueError):
    """A task's own request or limit is not a quantity; the message names the task and the field."""


def settle_closure(
    closure: compiler_pb2.CompiledWorkflowClosure, defaults: Mapping[str, str], limits: Mapping[str, str]
) -> compiler_pb2.CompiledWorkflowClosure:
    """A copy of ``closure`` whose tasks got ``defaults`` and ``limits`` (resource field name → quantity)."""
    settled = compiler_pb2.CompiledWorkflowClosure()
    settled.CopyFrom(closure)
    for compiled in settled.tasks:
        settle_task(compiled.template, defaults, limits)
    return settled


def settle_task(
    template: tasks_pb2.TaskTemplate, defaults: Mapping[str, str], limits: Mapping[str, str]
) -> None:
    """Apply ``defaults`` and ``limits`` to a container or pod task in place; other tasks are left alone.

    Raises :class:`TaskResourceError` naming the task and field when one of its quantities is invalid.
    """
    target = template.WhichOneof("target")
    where = f"task {template.id.name!r}"
    if target == "container":
        _settle_container(template.container.resources, defaults, limits, f"{where} container.resources")
    elif target == "k8s_pod" and template.k8s_pod.HasField("pod_spec"):
        primary = template.config.get(_PRIMARY_CONTAINER_KEY, "")
        _settle_pod(template.k8s_pod, primary, defaults, limits, where)


def _settle_container(
    resources: tasks_pb2.Resources, defaults: Mapping[str, str], caps: Mapping[str, str], where: str
) -> None:
    names = {number: name for name, number in _CONTAINER_NAMES.items()}
    requests = {names[e.name]: e.value for e in resources.requests if e.name in names}
    limits = {names[e.name]: e.value for e in resources.limits if e.name in names}
    if not _settle(requests, limits, defaults, caps, where):
        return
    others = [(e.name, e.value) for e in resources.requests if e.name not in names]
    other_limits = [(e.name, e.value) for e in resources.limits if e.name not in names]
    del resources.requests[:]
    del resources.limits[:]
    for entries, values, rest in (
        (resources.requests, requests, others),
        (resources.limits, limits, other_limits),
    ):
        for number, value in sorted([(_CONTAINER_NAMES[n], str(v)) for n, v in values.items()] + rest):
            entries.add(name=number, value=value)


def _settle_pod(
    pod: tasks_pb2.K8sPod, primary: str, defaults: Mapping[str, str], caps: Mapping[str, str], where: str
) -> None:
    spec = json_format.MessageToDict(pod.pod_spec)
    changed = False
    for index, container in enumerate(spec.get("containers") or []):
        if not isinstance(container, dict):
            continue
        name = container.get("name", "")
        resources = container.get("resources")
        if not isinstance(resources, dict):
            resources = {}
        requests, limits = (_pod_values(resources.get(part)) for part in ("requests", "limits"))
        here = f"{where} k8s_pod.pod_spec.containers[{index}] ({name!r}).resources"
        # Only the primary container gets defaults; sidecars are only kept within the limits.
        if _settle(requests, limits, defaults if name == primary else {}, caps, here):
            for part, values in (("requests", requests), ("limits", limits)):
                kept = {k: v for k, v in (resources.get(part) or {}).items() if not _known_pod_name(k)}
                kept.update((_pod_name(resources.get(part), n), v) for n, v in values.items())
                if kept:
                    resources[part] = kept
            container["resources"] = resources
            changed = True
    if changed:
        pod.pod_spec.Clear()
        pod.pod_spec.update(spec)


def _known_pod_name(name: str) -> bool:
    return any(name in names for names in _POD_NAMES.values())


def _pod_values(values: Any) -> dict[str, Any]:
    if not isinstance(values, dict):
        return {}
    found: dict[str, Any] = {}
    for resource, names in _POD_NAMES.items():
        for name in names:
            if name in values:
                found[resource] = values[name]
                break
    return found


def _pod_name(existing: Any, resource: str) -> str:
    """The Kubernetes name for ``resource``: the one the container already uses, else the first."""
    names = _POD_NAMES[resource]
    if isinstance(existing, dict):
        for name in names:
            if name in existing:
                return name
    return names[0]


def _settle(
    requests: dict[str, Any],
    limits: dict[str, Any],
    defaults: Mapping[str, str],
    caps: Mapping[str, str],
    where: str,
) -> bool:
    """Apply the rules to ``requests`` and ``limits`` (resource name → quantity) in place; whether any
    changed."""
    before = (dict(requests), dict(limits))
    for name in RESOURCES:
        default = defaults.get(name, "")
        cap_text = caps.get(name, "")
        if name not in requests and default and name not in _NO_DEFAULT_REQUEST:
            requests[name] = default
        if name not in requests and name not in limits:
            continue
        if name not in limits:
            limits[name] = requests[name]
        if cap_text:
            cap = parse_quantity(cap_text)
            for part, values in (("requests", requests), ("limits", limits)):
                if name in values and _quantity(values[name], part, name, where) > cap:
                    values[name] = cap_text
        if name in requests and _quantity(requests[name], "requests", name, where) > _quantity(
            limits[name], "limits", name, where
        ):
            requests[name] = limits[name]
    return (requests, limits) != before


def _quantity(value: Any, part: str, name: str, where: str) -> Any:
    try:
        return parse_quantity(value)
    except QuantityError as exc:
        raise TaskResourceError(f"{where}.{part}.{name} {value!r} is not a valid quantity: {exc}") from None
