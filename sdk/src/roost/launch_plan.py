"""Launch plans: a workflow with default and fixed inputs, a schedule, notifications, labels and limits."""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from flyteidl.admin import common_pb2, launch_plan_pb2, schedule_pb2
from flyteidl.core import execution_pb2, identifier_pb2, interface_pb2, literals_pb2, workflow_pb2

from roost import _typing
from roost.entity import Entity
from roost.errors import WorkflowDefinitionError
from roost.interface import Interface

if TYPE_CHECKING:
    from roost.nodes import Node
    from roost.serialize import SerializationSettings, Serializer
    from roost.workflows import Workflow


@dataclass(frozen=True)
class CronSchedule:
    """Run on a cron schedule (``"0 * * * *"``, an alias such as ``"@daily"``, or ``"CRON_TZ=Europe/Paris 0 3 * * *"``
    for a time zone other than UTC); ``kickoff_time_input_arg`` receives the scheduled time, and ``offset`` (an ISO
    8601 duration, ``"PT2H"``, as flytekit's) shifts every time."""

    schedule: str
    kickoff_time_input_arg: str = ""
    offset: str = ""

    def to_proto(self) -> schedule_pb2.Schedule:
        """The admin schedule."""
        return schedule_pb2.Schedule(
            cron_schedule=schedule_pb2.CronSchedule(schedule=self.schedule, offset=self.offset),
            kickoff_time_input_arg=self.kickoff_time_input_arg,
        )


@dataclass(frozen=True)
class FixedRate:
    """Run every ``duration`` (whole minutes, hours or days)."""

    duration: datetime.timedelta
    kickoff_time_input_arg: str = ""

    def to_proto(self) -> schedule_pb2.Schedule:
        """The admin schedule."""
        seconds = int(self.duration.total_seconds())
        for unit, size in ((schedule_pb2.DAY, 86400), (schedule_pb2.HOUR, 3600), (schedule_pb2.MINUTE, 60)):
            if seconds % size == 0 and seconds >= size:
                rate = schedule_pb2.FixedRate(value=seconds // size, unit=unit)
                return schedule_pb2.Schedule(rate=rate, kickoff_time_input_arg=self.kickoff_time_input_arg)
        raise WorkflowDefinitionError(f"FixedRate({self.duration}) must be whole minutes, hours or days")


_PHASES = {
    "SUCCEEDED": execution_pb2.WorkflowExecution.SUCCEEDED,
    "FAILED": execution_pb2.WorkflowExecution.FAILED,
    "TIMED_OUT": execution_pb2.WorkflowExecution.TIMED_OUT,
    "ABORTED": execution_pb2.WorkflowExecution.ABORTED,
}


@dataclass(frozen=True)
class Notification:
    """Tell someone when an execution ends in one of ``phases``: by ``Email``, ``Slack`` or ``PagerDuty``."""

    phases: Sequence[str]
    recipients: Sequence[str]
    channel: str = "email"

    def to_proto(self) -> common_pb2.Notification:
        """The admin notification."""
        unknown = [p for p in self.phases if p not in _PHASES]
        if unknown:
            raise WorkflowDefinitionError(f"notification phases {unknown} are not among {', '.join(_PHASES)}")
        proto = common_pb2.Notification(phases=[_PHASES[p] for p in self.phases])
        getattr(proto, self.channel).recipients_email.extend(self.recipients)
        return proto


def Email(phases: Sequence[str], recipients: Sequence[str]) -> Notification:
    """An email notification."""
    return Notification(phases, recipients, "email")


def Slack(phases: Sequence[str], recipients: Sequence[str]) -> Notification:
    """A Slack notification (to the addresses of Slack channels)."""
    return Notification(phases, recipients, "slack")


def PagerDuty(phases: Sequence[str], recipients: Sequence[str]) -> Notification:
    """A PagerDuty notification."""
    return Notification(phases, recipients, "pager_duty")


_SETTINGS = frozenset(
    {
        "default_inputs",
        "fixed_inputs",
        "schedule",
        "notifications",
        "labels",
        "annotations",
        "max_parallelism",
    }
)
"""The keyword settings a launch plan takes besides its workflow and name."""


class LaunchPlan(Entity):
    """A workflow with settings for launching it. Calling one inside a workflow starts a child execution."""

    kind = "launch plan"
    _registry: ClassVar[dict[str, LaunchPlan]] = {}

    def __init__(
        self,
        workflow: Workflow,
        name: str,
        *,
        default_inputs: Mapping[str, Any] | None = None,
        fixed_inputs: Mapping[str, Any] | None = None,
        schedule: CronSchedule | FixedRate | None = None,
        notifications: Sequence[Notification] = (),
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
        max_parallelism: int | None = None,
    ) -> None:
        fixed = dict(fixed_inputs or {})
        defaults = {**workflow.interface.defaults, **(default_inputs or {})}
        for name_ in [*fixed, *(default_inputs or {})]:
            if name_ not in workflow.interface.inputs:
                raise WorkflowDefinitionError(
                    f"launch plan {name!r}: {workflow.label} has no input {name_!r}"
                )
        interface = Interface(
            {k: t for k, t in workflow.interface.inputs.items() if k not in fixed},
            {k: v for k, v in defaults.items() if k not in fixed},
            dict(workflow.interface.outputs),
            workflow.interface.output_tuple,
        )
        super().__init__(name, interface)
        self.workflow = workflow
        self.fixed_inputs = fixed
        self.schedule = schedule
        self.notifications = tuple(notifications)
        self.labels = dict(labels or {})
        self.annotations = dict(annotations or {})
        self.max_parallelism = max_parallelism

    @classmethod
    def create(cls, name: str, workflow: Workflow, **settings: Any) -> LaunchPlan:
        """A new launch plan ``name`` (flytekit's argument order); a name already created is an error.

        Settings: ``default_inputs``, ``fixed_inputs``, ``schedule``, ``notifications``, ``labels``,
        ``annotations``, ``max_parallelism``.
        """
        if name in cls._registry:
            raise WorkflowDefinitionError(
                f"launch plan {name!r} was already created; names must be unique "
                "(LaunchPlan.get_or_create returns the existing one)"
            )
        unknown = sorted(set(settings) - _SETTINGS)
        if unknown:
            raise WorkflowDefinitionError(
                f"launch plan {name!r}: unsupported setting(s) {', '.join(unknown)}; "
                f"supported: {', '.join(sorted(_SETTINGS))}"
            )
        made = cls._registry[name] = cls(workflow, name, **settings)
        return made

    @classmethod
    def get_or_create(cls, workflow: Workflow, name: str | None = None, **settings: Any) -> LaunchPlan:
        """The launch plan ``name`` (the workflow's default one when no name is given), made on first use.

        Asking again for a name with different settings is an error, as registering it would be.
        """
        name = name or workflow.name
        made = cls(workflow, name, **settings)
        existing = cls._registry.get(name)
        if existing is not None:
            if existing.workflow is not workflow or existing._settings() != made._settings():
                raise WorkflowDefinitionError(f"launch plan {name!r} already exists with other settings")
            return existing
        cls._registry[name] = made
        return made

    def _settings(self) -> tuple[Any, ...]:
        return (
            self.interface.defaults,
            self.fixed_inputs,
            self.schedule,
            self.notifications,
            self.labels,
            self.annotations,
            self.max_parallelism,
        )

    def local_call(self, *args: Any, **kwargs: Any) -> Any:
        """Run the launch plan's workflow locally with the plan's defaults and fixed inputs."""
        from roost.local.runner import run_entity

        values = {**self.interface.defaults, **self.bind_arguments(args, kwargs), **self.fixed_inputs}
        return run_entity(self.workflow, values, launch_plan=self)

    def serialize_target(self, serializer: Serializer, node: Node, proto: workflow_pb2.Node) -> None:
        """A launch plan node."""
        proto.workflow_node.launchplan_ref.CopyFrom(serializer.launch_plan(self).id)

    def identifier(self, settings: SerializationSettings) -> identifier_pb2.Identifier:
        """The launch plan's identifier under ``settings``."""
        return identifier_pb2.Identifier(
            resource_type=identifier_pb2.LAUNCH_PLAN,
            project=settings.project,
            domain=settings.domain,
            name=self.name,
            version=settings.version,
        )

    def to_proto(self, settings: SerializationSettings) -> launch_plan_pb2.LaunchPlan:
        """The admin LaunchPlan (id and spec) as ``pyflyte register`` sends it."""
        wf = self.workflow
        parameters = {}
        for name, python_type in self.interface.inputs.items():
            variable = interface_pb2.Variable(type=_typing.literal_type(python_type), description=name)
            if name in self.interface.defaults:
                default = _typing.to_literal(
                    self.interface.defaults[name],
                    python_type,
                    where=f"launch plan {self.name!r} default input {name!r}",
                )
                parameters[name] = interface_pb2.Parameter(var=variable, default=default)
            else:
                parameters[name] = interface_pb2.Parameter(var=variable, required=True)
        fixed = literals_pb2.LiteralMap(
            literals={
                name: _typing.to_literal(
                    value, wf.interface.inputs[name], where=f"launch plan {self.name!r} fixed input {name!r}"
                )
                for name, value in self.fixed_inputs.items()
            }
        )
        spec = launch_plan_pb2.LaunchPlanSpec(
            workflow_id=wf.identifier(settings),
            default_inputs=interface_pb2.ParameterMap(parameters=parameters),
            fixed_inputs=fixed,
            labels=common_pb2.Labels(values=self.labels),
            annotations=common_pb2.Annotations(values=self.annotations),
        )
        if self.schedule is not None:
            spec.entity_metadata.schedule.CopyFrom(self.schedule.to_proto())
        spec.entity_metadata.notifications.extend(n.to_proto() for n in self.notifications)
        if self.max_parallelism is not None:
            spec.max_parallelism = self.max_parallelism
        closure = launch_plan_pb2.LaunchPlanClosure(
            expected_inputs=spec.default_inputs, expected_outputs=wf.interface.typed().outputs
        )
        return launch_plan_pb2.LaunchPlan(id=self.identifier(settings), spec=spec, closure=closure)
