"""Workflow nodes: an inline sub-workflow run as the node's children, or a launch plan run as a child
execution through the engine's :class:`~roost_core.engine.launcher.ChildLauncher`."""

from __future__ import annotations

import hashlib

from roost_core.engine import scope as scopes
from roost_core.engine.bindings import BindingError
from roost_core.engine.launcher import ChildRequest
from roost_core.engine.nodes import common, failure, reuse
from roost_core.engine.phases import NodePhase
from roost_core.engine.run import NodeRef, Run, Scope
from roost_core.engine.state import NodeState
from roost_core.errors import ErrorKind, ExecutionError


def advance(run: Run, ref: NodeRef, state: NodeState) -> None:
    """Advance the sub-workflow or the child execution."""
    if ref.node.workflow_node.HasField("sub_workflow_ref"):
        _advance_subworkflow(run, ref, state)
    else:
        _advance_launch_plan(run, ref, state)


def _scope(run: Run, ref: NodeRef, state: NodeState) -> Scope:
    graph = ref.scope.index.workflow(ref.node.workflow_node.sub_workflow_ref)
    prefix = f"{ref.uid}-{state.attempt}-"
    reuse.enter_scope(run, ref, prefix)
    return Scope(
        graph,
        ref.scope.index,
        prefix=prefix,
        parent_uid=ref.uid,
        inputs_uri=state.inputs_uri,
        retry_group=str(state.attempt),
    )


def _advance_subworkflow(run: Run, ref: NodeRef, state: NodeState) -> None:
    try:
        ref.scope.index.workflow(ref.node.workflow_node.sub_workflow_ref)
    except KeyError as exc:
        run.fail(
            ref, state, ExecutionError("WorkflowNotFound", f"{ref.label}: {exc.args[0]}", ErrorKind.SYSTEM)
        )
        return
    if state.phase is NodePhase.NOT_YET_STARTED:
        if common.start(run, ref, state) is None:
            return
        run.set_phase(ref, state, NodePhase.RUNNING)
    scope = _scope(run, ref, state)
    result = scopes.evaluate(run, scope)
    if result.status is scopes.ScopeStatus.RUNNING:
        return
    if result.status is scopes.ScopeStatus.FAILED:
        error = result.error or ExecutionError("SubWorkflowFailed", f"{ref.label}: sub-workflow failed")
        if state.attempt < ref.node.metadata.retries.retries:
            state.attempt += 1
            run.wake_at(run.now)
            return
        # The last attempt failed: the sub-workflow's own failure node runs first, as in Flyte.
        done, final = failure.run_failure_node(run, scope, failure.first_failure(run, scope, error))
        if done:
            run.fail(ref, state, final)
        return
    outputs_uri = run.engine.storage.join(run.data_dir(ref.uid), str(state.attempt), "outputs.pb")
    try:
        scopes.finish(run, scope, outputs_uri)
    except BindingError as exc:
        run.fail(
            ref,
            state,
            ExecutionError(
                "BindingError", f"{ref.label}: sub-workflow {scope.graph.name!r} output {exc}", ErrorKind.USER
            ),
        )
        return
    state.outputs_uri = outputs_uri
    run.set_phase(ref, state, NodePhase.SUCCEEDED)


def child_name(run: Run, uid: str, attempt: int) -> str:
    """The child execution's name: stable for one node attempt, so a repeated launch is the same child."""
    digest = hashlib.sha256(f"{run.key}/{uid}/{attempt}".encode()).hexdigest()
    return f"c{digest[:19]}"


def _advance_launch_plan(run: Run, ref: NodeRef, state: NodeState) -> None:
    launcher = run.engine.launcher
    if state.phase is NodePhase.NOT_YET_STARTED:
        if launcher is None:
            run.fail(
                ref,
                state,
                ExecutionError(
                    "NoLauncher",
                    f"{ref.label} launches a launch plan, but this engine has no child launcher",
                    ErrorKind.SYSTEM,
                ),
            )
            return
        if common.start(run, ref, state) is None:
            return
    assert launcher is not None
    if not state.child_execution:
        request = ChildRequest(
            parent=run.key,
            name=child_name(run, ref.uid, state.attempt),
            launch_plan=ref.node.workflow_node.launchplan_ref,
            inputs=run.literal_map(state.inputs_uri),
            notify=run.wake,
            inherited=run.options,
        )
        try:
            state.child_execution = launcher.launch(request)
        except Exception as exc:  # the launcher is the admin or a plugin: report, don't crash
            run.fail(
                ref,
                state,
                ExecutionError(
                    "LaunchFailed",
                    f"{ref.label}: launching {request.launch_plan.name!r} failed: {exc}",
                    ErrorKind.SYSTEM,
                ),
            )
            return
        run.set_phase(ref, state, NodePhase.RUNNING)
    status = launcher.status(state.child_execution)
    if not status.phase.is_terminal:
        run.wait_outside()
        return
    if status.outputs is not None and status.phase.name == "SUCCEEDED":
        state.outputs_uri = run.engine.storage.join(run.data_dir(ref.uid), str(state.attempt), "outputs.pb")
        run.write_literal_map(state.outputs_uri, status.outputs)
        run.set_phase(ref, state, NodePhase.SUCCEEDED)
        return
    run.fail(
        ref,
        state,
        status.error
        or ExecutionError(
            "ChildExecutionFailed",
            f"{ref.label}: child execution {state.child_execution} ended {status.phase.name.lower()}",
            ErrorKind.USER,
        ),
    )


def stop(run: Run, ref: NodeRef, state: NodeState, cause: str) -> None:
    """Abort the sub-workflow's nodes, or the child execution."""
    if ref.node.workflow_node.HasField("sub_workflow_ref"):
        scope = _scope(run, ref, state)
        scopes.abort(run, scope, cause)
        failure.stop_failure_node(run, scope, cause)
    elif state.child_execution and run.engine.launcher is not None:
        run.engine.launcher.abort(state.child_execution, cause)
