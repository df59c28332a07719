"""Dynamic tasks: compile the workflow a task wrote to ``futures.pb`` and run it as the node's children."""

from __future__ import annotations

from flyteidl.core import (
    dynamic_job_pb2,
    identifier_pb2,
    interface_pb2,
    workflow_pb2,
)

from roost_core.compiler import CompileError, compile_workflow
from roost_core.engine import scope as scopes
from roost_core.engine.bindings import BindingError
from roost_core.engine.graph import ClosureIndex, id_key
from roost_core.engine.nodes import attempt, reuse
from roost_core.engine.nodes.attempt import TaskSite
from roost_core.engine.phases import NodePhase
from roost_core.engine.run import NodeRef, Run, Scope
from roost_core.engine.state import NodeState
from roost_core.errors import ErrorKind, ExecutionError
from roost_core.task_resources import TaskResourceError, settle_closure


def _workflow(site: TaskSite, spec: dynamic_job_pb2.DynamicJobSpec) -> workflow_pb2.WorkflowTemplate:
    task_id = site.task.id
    return workflow_pb2.WorkflowTemplate(
        id=identifier_pb2.Identifier(
            resource_type=identifier_pb2.WORKFLOW,
            project=task_id.project,
            domain=task_id.domain,
            name=f"{task_id.name}-dynamic-{site.uid}",
            version=task_id.version,
        ),
        interface=interface_pb2.TypedInterface(outputs=site.task.interface.outputs),
        nodes=spec.nodes,
        outputs=spec.outputs,
    )


def begin(run: Run, ref: NodeRef, state: NodeState, site: TaskSite) -> None:
    """Compile the task's ``futures.pb`` and start running it."""
    storage = run.engine.storage
    folder = attempt.attempt_dir(run, site, state.attempt)
    spec = storage.read_proto(storage.join(folder, "futures.pb"), dynamic_job_pb2.DynamicJobSpec)
    known = run.index.closure
    tasks = {id_key(t.template.id): t.template for t in known.tasks}
    tasks.update((id_key(t.id), t) for t in spec.tasks)
    workflows = {id_key(w.template.id): w.template for w in known.sub_workflows}
    workflows.update((id_key(w.id), w) for w in spec.subworkflows)
    try:
        closure = compile_workflow(
            _workflow(site, spec),
            tasks.values(),
            workflows.values(),
            [lp.template for lp in known.launch_plans],
        )
    except CompileError as exc:
        run.fail(
            ref,
            state,
            ExecutionError(
                "DynamicWorkflowInvalid",
                f"{site.label}: the workflow it generated does not compile:\n{exc}",
                ErrorKind.USER,
            ),
        )
        return
    resources = run.options.task_resources
    if resources:
        # The generated tasks get the execution's recorded TASK_RESOURCE, as the closure's tasks did.
        try:
            closure = settle_closure(closure, resources.get("defaults", {}), resources.get("limits", {}))
        except TaskResourceError as exc:
            run.fail(
                ref,
                state,
                ExecutionError(
                    "DynamicWorkflowInvalid",
                    f"{site.label}: the workflow it generated: {exc}",
                    ErrorKind.USER,
                ),
            )
            return
    state.dynamic_closure_uri = storage.join(folder, "futures_compiled.pb")
    storage.write_proto(state.dynamic_closure_uri, closure)
    run.remember_dynamic(ref.uid, ClosureIndex(closure, parent=run.index))
    run.set_phase(ref, state, NodePhase.DYNAMIC_RUNNING, target=site.task.id)
    advance(run, ref, state, site)


def _scope(run: Run, ref: NodeRef, state: NodeState) -> Scope:
    index = run.dynamic_index(ref.uid, state.dynamic_closure_uri)
    prefix = f"{ref.uid}-{state.attempt}-"
    reuse.enter_scope(run, ref, prefix)
    return Scope(
        index.primary,
        index,
        prefix=prefix,
        parent_uid=ref.uid,
        retry_group=str(state.attempt),
    )


def advance(run: Run, ref: NodeRef, state: NodeState, site: TaskSite) -> None:
    """Advance the generated workflow; when it ends, so does the node."""
    scope = _scope(run, ref, state)
    result = scopes.evaluate(run, scope)
    if result.status is scopes.ScopeStatus.RUNNING:
        return
    if result.status is scopes.ScopeStatus.FAILED:
        assert result.error is not None
        run.fail(ref, state, result.error)
        return
    uri = run.engine.storage.join(attempt.attempt_dir(run, site, state.attempt), "outputs.pb")
    try:
        outputs = scopes.finish(run, scope, uri)
    except BindingError as exc:
        run.fail(ref, state, ExecutionError("BindingError", f"{site.label}: output {exc}", ErrorKind.USER))
        return
    problem = attempt.check_outputs(site, outputs)
    if problem is not None:
        run.fail(ref, state, ExecutionError("OutputsMismatch", problem, ErrorKind.USER))
        return
    attempt.complete(run, site, state, uri, outputs)
    run.set_phase(ref, state, NodePhase.SUCCEEDED, target=site.task.id)


def stop(run: Run, ref: NodeRef, state: NodeState, cause: str) -> None:
    """Abort the generated workflow's nodes."""
    scopes.abort(run, _scope(run, ref, state), cause)
