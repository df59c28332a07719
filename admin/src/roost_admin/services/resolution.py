"""How matchable attributes apply to a new execution, with Flyte's precedence: the execution's spec, then its
launch plan, then the most specific stored attribute of each kind (the workflow's, else the project and
domain's, else the project's), then the admin's configuration.

Everything is settled when the execution is created and recorded with it (the stored spec, the task
templates of the stored closure, the engine's options, and ``attributes.pb`` listing the attributes that
matched), so changing an attribute later alters only executions created after the change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias

from flyteidl.admin import execution_pb2
from flyteidl.admin import matchable_resource_pb2 as mr
from flyteidl.core import compiler_pb2
from sqlalchemy import Row, bindparam, or_, select
from sqlalchemy.orm import Session

from roost_admin.db import models
from roost_admin.errors import InvalidArgument
from roost_admin.services.attribute_checks import TASK_RESOURCE_FIELDS
from roost_core.task_resources import RESOURCES, TaskResourceError, settle_closure


@dataclass(frozen=True)
class Matched:
    """The attribute of each kind that applies to one execution, and where each was set."""

    attributes: dict[int, mr.MatchableAttributesConfiguration] = field(default_factory=dict)

    def get(self, kind: int) -> mr.MatchingAttributes | None:
        """The attribute of ``kind``, if one matched."""
        found = self.attributes.get(kind)
        return found.attributes if found is not None else None

    def record(self) -> mr.ListMatchableAttributesResponse:
        """What is stored with the execution: every matched attribute with its scope."""
        return mr.ListMatchableAttributesResponse(
            configurations=[self.attributes[kind] for kind in sorted(self.attributes)]
        )


_A = models.MatchableAttribute
_MATCHING = select(_A.resource_type, _A.project, _A.domain, _A.workflow, _A.launch_plan, _A.attributes).where(
    _A.project == bindparam("project"),
    or_(_A.domain == bindparam("domain"), _A.domain == ""),
    or_(_A.workflow == bindparam("workflow"), _A.workflow == ""),
    or_(_A.launch_plan == bindparam("launch_plan"), _A.launch_plan == ""),
)
"""The stored attributes that may apply to an execution (built once: a statement per call costs more than the
query)."""
_Scope: TypeAlias = "Row[int, str, str, str, str, bytes]"
"""A row of :data:`_MATCHING`."""


def match(session: Session, project: str, domain: str, workflow: str, launch_plan: str) -> Matched:
    """The most specific stored attribute of each kind for an execution of ``workflow`` (launched through
    ``launch_plan``) in ``project`` and ``domain``."""
    # On the session's connection: a Core statement needs none of the ORM's execution path.
    rows = (
        session.connection()
        .execute(
            _MATCHING,
            {"project": project, "domain": domain, "workflow": workflow, "launch_plan": launch_plan},
        )
        .all()
    )
    best: dict[int, _Scope] = {}
    for row in rows:
        if row.domain == "" and (row.workflow or row.launch_plan):
            continue  # a workflow attribute always has its domain; no scope skips the domain
        current = best.get(row.resource_type)
        if current is None or _specificity(row) > _specificity(current):
            best[row.resource_type] = row
    return Matched(
        {
            kind: mr.MatchableAttributesConfiguration(
                attributes=mr.MatchingAttributes.FromString(row.attributes),
                project=row.project,
                domain=row.domain,
                workflow=row.workflow,
                launch_plan=row.launch_plan,
            )
            for kind, row in best.items()
        }
    )


def _specificity(row: _Scope) -> tuple[bool, bool, bool]:
    return (bool(row.launch_plan), bool(row.workflow), bool(row.domain))


def settle_spec(spec: execution_pb2.ExecutionSpec, matched: Matched) -> None:
    """Fill what the spec (already merged with its launch plan) leaves unset from the matched attributes."""
    config = matched.get(mr.WORKFLOW_EXECUTION_CONFIG)
    if config is not None:
        _settle_execution_config(spec, config.workflow_execution_config)
    qos = matched.get(mr.QUALITY_OF_SERVICE_SPECIFICATION)
    if qos is not None and not spec.HasField("quality_of_service"):
        spec.quality_of_service.CopyFrom(qos.quality_of_service)
    label = matched.get(mr.EXECUTION_CLUSTER_LABEL)
    if label is not None and not spec.HasField("execution_cluster_label"):
        spec.execution_cluster_label.CopyFrom(label.execution_cluster_label)
    assignment = matched.get(mr.CLUSTER_ASSIGNMENT)
    if assignment is not None and not spec.HasField("cluster_assignment"):
        spec.cluster_assignment.CopyFrom(assignment.cluster_assignment)


def _settle_execution_config(spec: execution_pb2.ExecutionSpec, config: mr.WorkflowExecutionConfig) -> None:
    if not spec.max_parallelism and config.max_parallelism:
        spec.max_parallelism = config.max_parallelism
    if not spec.HasField("security_context") and config.HasField("security_context"):
        spec.security_context.CopyFrom(config.security_context)
    if (
        not spec.raw_output_data_config.output_location_prefix
        and config.raw_output_data_config.output_location_prefix
    ):
        spec.raw_output_data_config.CopyFrom(config.raw_output_data_config)
    if not spec.labels.values and config.labels.values:
        spec.labels.CopyFrom(config.labels)
    if not spec.annotations.values and config.annotations.values:
        spec.annotations.CopyFrom(config.annotations)
    if not spec.HasField("interruptible") and config.HasField("interruptible"):
        spec.interruptible.CopyFrom(config.interruptible)
    if not spec.overwrite_cache and config.overwrite_cache:
        spec.overwrite_cache = True
    if not spec.envs.values and config.envs.values:
        spec.envs.CopyFrom(config.envs)


def task_resources(
    matched: Matched, configured: mr.TaskResourceAttributes
) -> mr.TaskResourceAttributes | None:
    """The task resource defaults and limits of an execution: the matched attribute's values, each unset one
    from the admin's configuration; None when neither sets anything."""
    merged = mr.TaskResourceAttributes()
    merged.CopyFrom(configured)
    found = matched.get(mr.TASK_RESOURCE)
    if found is not None:
        for part in ("defaults", "limits"):
            values = getattr(found.task_resource_attributes, part)
            for name in TASK_RESOURCE_FIELDS:
                if getattr(values, name):
                    setattr(getattr(merged, part), name, getattr(values, name))
    if not merged.HasField("defaults") and not merged.HasField("limits"):
        return None
    if merged.defaults.ByteSize() == 0 and merged.limits.ByteSize() == 0:
        return None
    return merged


def resource_rules(resources: mr.TaskResourceAttributes) -> dict[str, dict[str, str]]:
    """The defaults and limits as the engine's options keep them (``ExecutionOptions.task_resources``):
    resource field name → quantity, unset ones left out."""
    return {
        part: {
            name: getattr(getattr(resources, part), name)
            for name in RESOURCES
            if getattr(getattr(resources, part), name)
        }
        for part in ("defaults", "limits")
    }


def apply_task_resources(
    closure: compiler_pb2.CompiledWorkflowClosure, rules: dict[str, dict[str, str]]
) -> compiler_pb2.CompiledWorkflowClosure:
    """A copy of ``closure`` whose container tasks, and pod tasks' primary containers, got the defaults and
    limits (flytepropeller's rules, :mod:`roost_core.task_resources`); a task's own invalid quantity is
    INVALID_ARGUMENT naming it."""
    try:
        return settle_closure(closure, rules["defaults"], rules["limits"])
    except TaskResourceError as exc:
        raise InvalidArgument(str(exc)) from None


def plugin_handlers(matched: Matched) -> tuple[dict[str, list[str]], list[str]]:
    """The engine's per-execution handler choice from the matched PLUGIN_OVERRIDE: task type → handler names,
    and the task types that fall back to the engine's own choice (``USE_DEFAULT``)."""
    found = matched.get(mr.PLUGIN_OVERRIDE)
    if found is None:
        return {}, []
    handlers: dict[str, list[str]] = {}
    fallback: list[str] = []
    for override in found.plugin_overrides.overrides:
        handlers[override.task_type] = list(override.plugin_id)
        if override.missing_plugin_behavior == mr.PluginOverride.USE_DEFAULT:
            fallback.append(override.task_type)
    return handlers, sorted(fallback)
