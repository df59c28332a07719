"""Compiling a workflow with everything it references into a CompiledWorkflowClosure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from flyteidl.core import compiler_pb2, identifier_pb2, interface_pb2, tasks_pb2, workflow_pb2

from roost_core.compiler.entities import (
    Catalog,
    EntityKey,
    LaunchPlanEntry,
    LaunchPlanLike,
    entity_key,
    entity_text,
)
from roost_core.compiler.interfaces import (
    NodeInterface,
    required_inputs,
    types_of,
    variable_problems,
)
from roost_core.compiler.issues import CompileError, IssueCode, IssueLog
from roost_core.compiler.nodes import NodeRecord
from roost_core.compiler.workflow import WorkflowCompiler


def compile_workflow(
    workflow: workflow_pb2.WorkflowTemplate,
    tasks: Iterable[tasks_pb2.TaskTemplate],
    subworkflows: Iterable[workflow_pb2.WorkflowTemplate] = (),
    launch_plans: Iterable[LaunchPlanLike] = (),
) -> compiler_pb2.CompiledWorkflowClosure:
    """Check a workflow and compile it with the sub-workflows, tasks and launch plans it uses.

    Launch plans may be given as admin ``LaunchPlan``s, whose inputs without a default or fixed
    value a node must bind, or as core ``LaunchPlanTemplate``s, which cannot tell defaults apart
    and so let a node leave any unfixed input unbound (for launch time to check). The inputs are
    not modified. Raises :class:`CompileError` listing every issue found.
    """
    log = IssueLog()
    catalog = Catalog(tasks, subworkflows, launch_plans, log)
    closure = compiler_pb2.CompiledWorkflowClosure()
    session = Session(catalog, log, closure)
    session.compile_primary(workflow)
    if log.issues:
        raise CompileError(log.issues)
    session.write_references()
    return closure


class Session:
    """State shared by every workflow of one compile: the catalog, what has been referenced so far,
    and which sub-workflows are compiled or being compiled."""

    def __init__(
        self, catalog: Catalog, log: IssueLog, closure: compiler_pb2.CompiledWorkflowClosure
    ) -> None:
        self.catalog = catalog
        self.log = log
        self.closure = closure
        self._tasks: dict[EntityKey, tuple[tasks_pb2.TaskTemplate, NodeInterface]] = {}
        self._launch_plans: dict[EntityKey, tuple[LaunchPlanEntry, NodeInterface]] = {}
        self._workflows: dict[EntityKey, NodeInterface] = {}
        self._stack: list[tuple[EntityKey, str]] = []

    def compile_primary(self, template: workflow_pb2.WorkflowTemplate) -> None:
        """Compile the primary workflow (and, through its nodes, everything it references)."""
        key = entity_key(template.id)
        self._workflows[key] = _workflow_interface(template)
        self._stack.append((key, template.id.name))
        WorkflowCompiler(self, template, self.closure.primary).compile()
        self._stack.pop()

    def write_references(self) -> None:
        """Add every referenced task and launch plan to the closure, in first-reference order."""
        for task, _ in self._tasks.values():
            self.closure.tasks.add().template.CopyFrom(task)
        for entry, _ in self._launch_plans.values():
            self.closure.launch_plans.add().template.CopyFrom(entry.template)

    def task_interface(
        self, reference: identifier_pb2.Identifier, compiler: WorkflowCompiler, record: NodeRecord
    ) -> NodeInterface | None:
        """The interface of a referenced task; reports a missing task or a malformed interface."""
        key = entity_key(reference)
        known = self._tasks.get(key)
        if known is not None:
            return known[1]
        task = self.catalog.tasks.get(key)
        text = entity_text(reference)
        if task is None:
            compiler.report(
                IssueCode.TASK_REFERENCE_NOT_FOUND,
                record,
                f"{record.label} references task '{text}', which was not given to the compiler",
            )
            return None
        source = f"task '{text}'"
        _report_variables(compiler, record, source, task.interface.inputs.variables, "input")
        _report_variables(compiler, record, source, task.interface.outputs.variables, "output")
        inputs = types_of(task.interface.inputs.variables)
        interface = NodeInterface(
            source, inputs, types_of(task.interface.outputs.variables), required_inputs(inputs)
        )
        self._tasks[key] = (task, interface)
        return interface

    def launch_plan_interface(
        self, reference: identifier_pb2.Identifier, compiler: WorkflowCompiler, record: NodeRecord
    ) -> NodeInterface | None:
        """A launch plan's interface: its unfixed inputs, required where they have no default."""
        key = entity_key(reference)
        known = self._launch_plans.get(key)
        if known is not None:
            return known[1]
        entry = self.catalog.launch_plans.get(key)
        text = entity_text(reference)
        if entry is None:
            compiler.report(
                IssueCode.WORKFLOW_REFERENCE_NOT_FOUND,
                record,
                f"{record.label} references launch plan '{text}', which was not given to the compiler",
            )
            return None
        source = f"launch plan '{text}'"
        _report_variables(compiler, record, source, entry.inputs, "input")
        _report_variables(compiler, record, source, entry.outputs, "output")
        inputs = types_of(entry.inputs)
        interface = NodeInterface(
            source,
            inputs,
            types_of(entry.outputs),
            entry.required & required_inputs(inputs),
            entry.fixed,
        )
        self._launch_plans[key] = (entry, interface)
        return interface

    def subworkflow_interface(
        self, reference: identifier_pb2.Identifier, compiler: WorkflowCompiler, record: NodeRecord
    ) -> NodeInterface | None:
        """The interface of a sub-workflow, which is compiled (once) on first reference."""
        key = entity_key(reference)
        template = self.catalog.workflows.get(key)
        text = entity_text(reference)
        if template is None:
            compiler.report(
                IssueCode.WORKFLOW_REFERENCE_NOT_FOUND,
                record,
                f"{record.label} references sub-workflow '{text}', which was not given to the compiler",
            )
            return None
        on_stack = [stacked for stacked, _ in self._stack]
        if key in on_stack:
            path = [name for _, name in self._stack[on_stack.index(key) :]] + [template.id.name]
            compiler.report(
                IssueCode.CYCLE_DETECTED,
                record,
                f"{record.label} calls sub-workflow '{text}' recursively ({' -> '.join(path)})",
            )
        elif key not in self._workflows:
            self._workflows[key] = _workflow_interface(template)
            self._stack.append((key, template.id.name))
            WorkflowCompiler(self, template, self.closure.sub_workflows.add()).compile()
            self._stack.pop()
        return self._workflows[key]


def _workflow_interface(template: workflow_pb2.WorkflowTemplate) -> NodeInterface:
    inputs = types_of(template.interface.inputs.variables)
    return NodeInterface(
        f"sub-workflow '{entity_text(template.id)}'",
        inputs,
        types_of(template.interface.outputs.variables),
        required_inputs(inputs),
    )


def _report_variables(
    compiler: WorkflowCompiler,
    record: NodeRecord,
    source: str,
    variables: Mapping[str, interface_pb2.Variable],
    noun: str,
) -> None:
    for name, problem in variable_problems(variables):
        if problem == "missing":
            compiler.report(IssueCode.VALUE_REQUIRED, record, f"{source} {noun} '{name}' has no type")
        else:
            compiler.report(
                IssueCode.INVALID_LITERAL_TYPE,
                record,
                f"{source} {noun} '{name}' has an empty or unknown literal type",
            )
