"""Steps every node kind shares: resolving and writing inputs, reporting task changes."""

from __future__ import annotations

from collections.abc import Mapping

from flyteidl.core import interface_pb2, literals_pb2, tasks_pb2

from roost_core import literal_types
from roost_core.engine.bindings import BindingError, resolve_bindings
from roost_core.engine.nodes.attempt import StepResult
from roost_core.engine.phases import NodePhase
from roost_core.engine.run import NodeRef, Run
from roost_core.engine.state import NodeState
from roost_core.errors import ErrorKind, ExecutionError


def resolve_inputs(
    run: Run, ref: NodeRef, expects: tasks_pb2.TaskTemplate | None = None
) -> literals_pb2.LiteralMap:
    """The node's inputs, resolved against its scope; raises BindingError naming the input."""
    scope = ref.scope
    return resolve_bindings(
        ref.node.inputs,
        lambda node_id, var: run.output_of(scope, node_id, var),
        _input_variables(ref, expects),
    )


def _input_variables(
    ref: NodeRef, expects: tasks_pb2.TaskTemplate | None
) -> Mapping[str, interface_pb2.Variable] | None:
    """The inputs the node feeds: its task's, its sub-workflow's or its launch plan's, where known."""
    typed: interface_pb2.TypedInterface | None = None
    target = ref.node.workflow_node
    if expects is not None:
        typed = expects.interface
    elif ref.node.WhichOneof("target") != "workflow_node":
        return None
    elif target.HasField("sub_workflow_ref"):
        try:
            typed = ref.scope.index.workflow(target.sub_workflow_ref).template.interface
        except KeyError:
            return None
    else:
        launch_plan = ref.scope.index.launch_plan(target.launchplan_ref)
        typed = launch_plan.interface if launch_plan is not None else None
    if typed is None:
        return None
    variables: Mapping[str, interface_pb2.Variable] = typed.inputs.variables
    return variables


def start(
    run: Run, ref: NodeRef, state: NodeState, expects: tasks_pb2.TaskTemplate | None = None
) -> literals_pb2.LiteralMap | None:
    """Resolve the node's inputs, check them against ``expects``'s interface, write them, and queue.

    Returns the inputs, or None after failing the node with a message naming the input at fault.
    """
    try:
        inputs = resolve_inputs(run, ref, expects)
    except BindingError as exc:
        run.fail(ref, state, ExecutionError("BindingError", f"{ref.label}: {exc}", ErrorKind.USER))
        return None
    if ref.failure is not None:
        from roost_core.engine.nodes.failure import ERROR_INPUT, pass_error

        declared = expects is not None and ERROR_INPUT in expects.interface.inputs.variables
        pass_error(inputs, ref.failure, declared=declared)
    if expects is not None:
        problem = check_inputs(expects, inputs)
        if problem is not None:
            run.fail(ref, state, ExecutionError("InputsMismatch", f"{ref.label}: {problem}", ErrorKind.USER))
            return None
    state.inputs_uri = run.engine.storage.join(run.data_dir(ref.uid), "inputs.pb")
    run.write_literal_map(state.inputs_uri, inputs)
    run.set_phase(ref, state, NodePhase.QUEUED)
    return inputs


def check_inputs(task: tasks_pb2.TaskTemplate, inputs: literals_pb2.LiteralMap) -> str | None:
    """A message naming the first input of ``task`` that is missing or of the wrong type, or None."""
    for name, variable in task.interface.inputs.variables.items():
        literal = inputs.literals.get(name)
        if literal is None:
            if literal_types.literal_matches(_NONE, variable.type):
                continue
            return f"task {task.id.name!r} input {name!r} was not given"
        if not literal_types.literal_matches(literal, variable.type):
            got = literal_types.describe(literal_types.literal_type_of(literal))
            return (
                f"task {task.id.name!r} input {name!r} expects "
                f"{literal_types.describe(variable.type)} but got {got}"
            )
    return None


_NONE = literals_pb2.Literal(scalar=literals_pb2.Scalar(none_type=literals_pb2.Void()))


def report(
    run: Run, ref: NodeRef, state: NodeState, task: tasks_pb2.TaskTemplate, result: StepResult
) -> None:
    """Record a task node's step: node phases and task events, in the order they happened."""
    phases = result.node_phases
    split = phases.index(NodePhase.RUNNING) + 1 if NodePhase.RUNNING in phases else 0
    for phase in phases[:split]:
        run.set_phase(ref, state, phase, target=task.id)
    for task_report in result.reports:
        run.record_task(ref.uid, task, task_report, state.inputs_uri)
    for phase in phases[split:]:
        run.set_phase(ref, state, phase, target=task.id)
