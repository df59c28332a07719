"""The tasks, sub-workflows and launch plans a compile may reference, indexed by identifier."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeAlias

from flyteidl.admin import launch_plan_pb2
from flyteidl.core import identifier_pb2, interface_pb2, tasks_pb2, workflow_pb2

from roost_core.compiler.issues import IssueCode, IssueLog

EntityKey = tuple[str, str, str, str]
"""(project, domain, name, version). The resource type is left out: references spell it loosely."""

LaunchPlanLike: TypeAlias = workflow_pb2.LaunchPlanTemplate | launch_plan_pb2.LaunchPlan
"""What the compiler accepts as a launch plan: the core template, or admin's full launch plan, whose
``default_inputs`` say which inputs have defaults."""


def entity_key(identifier: identifier_pb2.Identifier) -> EntityKey:
    """The lookup key of an identifier."""
    return (identifier.project, identifier.domain, identifier.name, identifier.version)


def entity_text(identifier: identifier_pb2.Identifier) -> str:
    """``name@version`` (or just the name) for messages."""
    return f"{identifier.name}@{identifier.version}" if identifier.version else identifier.name


@dataclass(frozen=True, slots=True)
class LaunchPlanEntry:
    """A launch plan as a node sees it: what it may bind, must bind, and gets back."""

    template: workflow_pb2.LaunchPlanTemplate
    """What the compiled closure carries for it."""
    inputs: dict[str, interface_pb2.Variable]
    """Inputs a node may bind: every input but the fixed ones."""
    required: frozenset[str]
    """Inputs a node must bind: those with neither a default nor a fixed value."""
    fixed: frozenset[str]
    outputs: dict[str, interface_pb2.Variable]


def launch_plan_entry(launch_plan: LaunchPlanLike) -> LaunchPlanEntry:
    """Read a launch plan given either as a core template or as admin's launch plan."""
    if isinstance(launch_plan, workflow_pb2.LaunchPlanTemplate):
        fixed = frozenset(launch_plan.fixed_inputs.literals)
        inputs = {n: v for n, v in launch_plan.interface.inputs.variables.items() if n not in fixed}
        outputs = dict(launch_plan.interface.outputs.variables)
        template = workflow_pb2.LaunchPlanTemplate()
        template.CopyFrom(launch_plan)
        # A core template cannot say which inputs have defaults: any unfixed input may have one, so
        # none is required here and a missing one is found when the launch plan is launched.
        return LaunchPlanEntry(template, inputs, frozenset(), fixed, outputs)
    fixed = frozenset(launch_plan.spec.fixed_inputs.literals)
    parameters = launch_plan.closure.expected_inputs.parameters or launch_plan.spec.default_inputs.parameters
    inputs = {n: p.var for n, p in parameters.items() if n not in fixed}
    required = frozenset(
        n for n, p in parameters.items() if n not in fixed and p.WhichOneof("behavior") in (None, "required")
    )
    outputs = dict(launch_plan.closure.expected_outputs.variables)
    template = workflow_pb2.LaunchPlanTemplate(
        id=launch_plan.id,
        interface=interface_pb2.TypedInterface(
            inputs=interface_pb2.VariableMap(variables=inputs),
            outputs=interface_pb2.VariableMap(variables=outputs),
        ),
        fixed_inputs=launch_plan.spec.fixed_inputs,
    )
    return LaunchPlanEntry(template, inputs, required, fixed, outputs)


class Catalog:
    """What the compiler was given besides the primary workflow; of duplicate ids the first wins."""

    def __init__(
        self,
        tasks: Iterable[tasks_pb2.TaskTemplate],
        subworkflows: Iterable[workflow_pb2.WorkflowTemplate],
        launch_plans: Iterable[LaunchPlanLike],
        log: IssueLog,
    ) -> None:
        self.tasks: dict[EntityKey, tasks_pb2.TaskTemplate] = {}
        self.workflows: dict[EntityKey, workflow_pb2.WorkflowTemplate] = {}
        self.launch_plans: dict[EntityKey, LaunchPlanEntry] = {}
        for position, task in enumerate(tasks, start=1):
            if not task.HasField("id") or not task.id.name:
                log.add_plain(
                    IssueCode.VALUE_REQUIRED,
                    "",
                    f"task #{position} passed to the compiler has no id",
                )
                continue
            self.tasks.setdefault(entity_key(task.id), task)
        for position, workflow in enumerate(subworkflows, start=1):
            if not workflow.HasField("id") or not workflow.id.name:
                log.add_plain(
                    IssueCode.VALUE_REQUIRED,
                    "",
                    f"sub-workflow #{position} passed to the compiler has no id",
                )
                continue
            self.workflows.setdefault(entity_key(workflow.id), workflow)
        for position, launch_plan in enumerate(launch_plans, start=1):
            if not launch_plan.HasField("id") or not launch_plan.id.name:
                log.add_plain(
                    IssueCode.VALUE_REQUIRED,
                    "",
                    f"launch plan #{position} passed to the compiler has no id",
                )
                continue
            key = entity_key(launch_plan.id)
            if key not in self.launch_plans:
                self.launch_plans[key] = launch_plan_entry(launch_plan)
