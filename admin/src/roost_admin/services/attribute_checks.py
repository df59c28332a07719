"""Checks of a matchable attribute (``admin.MatchingAttributes``) before it is stored: which kind it is, and
that its values can be applied (quantities parse, names are there, nothing is negative). Every problem is an
INVALID_ARGUMENT naming the field."""

from __future__ import annotations

from fractions import Fraction

from flyteidl.admin import matchable_resource_pb2 as mr

from roost_admin.errors import InvalidArgument
from roost_core.quantity import QuantityError, parse_quantity

KINDS: dict[str, int] = {
    "task_resource_attributes": mr.TASK_RESOURCE,
    "cluster_resource_attributes": mr.CLUSTER_RESOURCE,
    "execution_queue_attributes": mr.EXECUTION_QUEUE,
    "execution_cluster_label": mr.EXECUTION_CLUSTER_LABEL,
    "quality_of_service": mr.QUALITY_OF_SERVICE_SPECIFICATION,
    "plugin_overrides": mr.PLUGIN_OVERRIDE,
    "workflow_execution_config": mr.WORKFLOW_EXECUTION_CONFIG,
    "cluster_assignment": mr.CLUSTER_ASSIGNMENT,
}
"""The ``MatchingAttributes.target`` field of each kind → its ``MatchableResource``."""

FIELD_OF: dict[int, str] = {kind: name for name, kind in KINDS.items()}
"""``MatchableResource`` → its ``MatchingAttributes.target`` field."""

TASK_RESOURCE_FIELDS = ("cpu", "gpu", "memory", "storage", "ephemeral_storage")
"""The quantities a ``TaskResourceSpec`` holds."""


def kind_name(kind: int) -> str:
    """``TASK_RESOURCE`` for messages (the number for an unknown kind)."""
    try:
        name: str = mr.MatchableResource.Name(kind)
    except ValueError:
        return str(kind)
    return name


def check_kind(kind: int, what: str) -> int:
    """``kind`` is a ``MatchableResource`` Flyte defines."""
    if kind not in FIELD_OF:
        known = ", ".join(mr.MatchableResource.keys())
        raise InvalidArgument(f"{what} {kind} is not a matchable resource ({known})", field=what)
    return kind


def check(attributes: mr.MatchingAttributes, what: str) -> int:
    """The kind of ``attributes`` (a ``MatchableResource``), once its values are checked; ``what`` is the
    field path of ``attributes`` in the request."""
    target = attributes.WhichOneof("target")
    if target is None:
        raise InvalidArgument(
            f"{what} is required: one of {', '.join(KINDS)}",
            field=what,
        )
    where = f"{what}.{target}"
    if target == "task_resource_attributes":
        _task_resources(attributes.task_resource_attributes, where)
    elif target == "cluster_resource_attributes":
        for key in attributes.cluster_resource_attributes.attributes:
            if not key.strip():
                raise InvalidArgument(f"{where}.attributes has an empty key", field=where)
    elif target == "execution_queue_attributes":
        for index, tag in enumerate(attributes.execution_queue_attributes.tags):
            if not tag.strip():
                raise InvalidArgument(f"{where}.tags[{index}] is empty", field=where)
    elif target == "execution_cluster_label":
        if not attributes.execution_cluster_label.value.strip():
            raise InvalidArgument(f"{where}.value is required", field=where)
    elif target == "quality_of_service":
        _quality_of_service(attributes, where)
    elif target == "plugin_overrides":
        _plugin_overrides(attributes.plugin_overrides, where)
    elif target == "workflow_execution_config":
        _execution_config(attributes.workflow_execution_config, where)
    elif not attributes.cluster_assignment.cluster_pool_name.strip():
        raise InvalidArgument(f"{where}.cluster_pool_name is required", field=where)
    return KINDS[target]


def quantity(value: str, what: str) -> Fraction:
    """A resource quantity (``500m``, ``2Gi``), at least zero; INVALID_ARGUMENT naming ``what`` if not."""
    try:
        parsed = parse_quantity(value)
    except QuantityError as exc:
        raise InvalidArgument(f"{what} {value!r} is not a valid quantity: {exc}", field=what) from None
    if parsed < 0:
        raise InvalidArgument(f"{what} {value!r} is negative", field=what)
    return parsed


def _task_resources(spec: mr.TaskResourceAttributes, where: str) -> None:
    parsed: dict[str, dict[str, Fraction]] = {"defaults": {}, "limits": {}}
    for part, found in parsed.items():
        values = getattr(spec, part)
        for name in TASK_RESOURCE_FIELDS:
            text = getattr(values, name)
            if text:
                found[name] = quantity(text, f"{where}.{part}.{name}")
    for name, default in parsed["defaults"].items():
        limit = parsed["limits"].get(name)
        if limit is not None and default > limit:
            raise InvalidArgument(
                f"{where}.defaults.{name} {getattr(spec.defaults, name)!r} exceeds "
                f"{where}.limits.{name} {getattr(spec.limits, name)!r}",
                field=f"{where}.defaults.{name}",
            )


def _quality_of_service(attributes: mr.MatchingAttributes, where: str) -> None:
    qos = attributes.quality_of_service
    if qos.HasField("spec") and qos.spec.queueing_budget.ToTimedelta().total_seconds() < 0:
        raise InvalidArgument(f"{where}.spec.queueing_budget is negative", field=where)


def _plugin_overrides(overrides: mr.PluginOverrides, where: str) -> None:
    seen: set[str] = set()
    for index, override in enumerate(overrides.overrides):
        at = f"{where}.overrides[{index}]"
        if not override.task_type.strip():
            raise InvalidArgument(f"{at}.task_type is required", field=at)
        if override.task_type in seen:
            raise InvalidArgument(f"{at}.task_type {override.task_type!r} appears twice", field=at)
        seen.add(override.task_type)
        if not override.plugin_id or not all(name.strip() for name in override.plugin_id):
            raise InvalidArgument(f"{at}.plugin_id needs at least one handler name, none empty", field=at)


def _execution_config(config: mr.WorkflowExecutionConfig, where: str) -> None:
    if config.max_parallelism < 0:
        raise InvalidArgument(f"{where}.max_parallelism {config.max_parallelism} is negative", field=where)
    for index, pair in enumerate(config.envs.values):
        if not pair.key.strip():
            raise InvalidArgument(f"{where}.envs.values[{index}].key is required", field=where)
    for part in ("labels", "annotations"):
        for key in getattr(config, part).values:
            if not key.strip():
                raise InvalidArgument(f"{where}.{part} has an empty key", field=where)
