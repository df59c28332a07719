"""Task nodes: one task, its attempts, and (for dynamic tasks) the workflow it generates."""

from __future__ import annotations

from flyteidl.core import tasks_pb2

from roost_core.engine.nodes import attempt, common, dynamic, reuse
from roost_core.engine.nodes.attempt import Outcome, TaskSite
from roost_core.engine.phases import NodePhase
from roost_core.engine.run import NodeRef, Run
from roost_core.engine.state import NodeState
from roost_core.errors import ErrorKind, ExecutionError


def _task(run: Run, ref: NodeRef, state: NodeState) -> tasks_pb2.TaskTemplate | None:
    try:
        return ref.scope.index.task(ref.node.task_node.reference_id)
    except KeyError as exc:
        run.fail(ref, state, ExecutionError("TaskNotFound", f"{ref.label}: {exc.args[0]}", ErrorKind.SYSTEM))
        return None


def site(run: Run, ref: NodeRef, state: NodeState, task: tasks_pb2.TaskTemplate) -> TaskSite:
    """The task execution of a task node."""
    return TaskSite(
        uid=ref.uid,
        node=ref.node,
        task=task,
        inputs=run.literal_map(state.inputs_uri),
        inputs_uri=state.inputs_uri,
        data_dir=run.data_dir(ref.uid),
        where=ref.label,
    )


def advance(run: Run, ref: NodeRef, state: NodeState) -> None:
    """Start the node, or advance its current attempt or dynamic workflow."""
    task = _task(run, ref, state)
    if task is None:
        return
    if state.phase is NodePhase.NOT_YET_STARTED:
        if common.start(run, ref, state, task) is None:
            return
        generated = reuse.dynamic_workflow(run, ref, state)
        if generated:
            state.dynamic_closure_uri = generated
            run.set_phase(ref, state, NodePhase.DYNAMIC_RUNNING, target=task.id)
    task_site = site(run, ref, state, task)
    if state.phase is NodePhase.DYNAMIC_RUNNING:
        dynamic.advance(run, ref, state, task_site)
        return
    result = attempt.step(run, task_site, state)
    common.report(run, ref, state, task, result)
    if result.outcome is Outcome.DYNAMIC:
        dynamic.begin(run, ref, state, task_site)


def stop(run: Run, ref: NodeRef, state: NodeState, cause: str) -> None:
    """Abort the attempt in flight, or the dynamic workflow."""
    task = ref.scope.index.task(ref.node.task_node.reference_id)
    if not state.inputs_uri:
        return
    if state.phase is NodePhase.DYNAMIC_RUNNING:
        dynamic.stop(run, ref, state, cause)
        return
    result = attempt.abort(run, site(run, ref, state, task), state, cause)
    for report in result.reports:
        run.record_task(ref.uid, task, report, state.inputs_uri)
