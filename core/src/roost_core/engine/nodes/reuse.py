"""Reusing an original execution's node outputs in a recovered or resumed execution (the rules are in
:mod:`roost_core.engine.recovery`).

A node about to start asks :func:`try_reuse` first: when it may reuse, it ends RECOVERED with a copy of the
original's outputs and never runs. A node that did not succeed in the original runs, but keeps what it can:
a dynamic task's generated workflow (:func:`dynamic_workflow`, recover only) and a map task's succeeded
indices (:func:`array_indices`).
"""

from __future__ import annotations

from flyteidl.core import literals_pb2, tasks_pb2, workflow_pb2

from roost_core.engine.bindings import BindingError
from roost_core.engine.graph import is_start_or_end
from roost_core.engine.nodes import common
from roost_core.engine.phases import NodePhase
from roost_core.engine.recovery import Recovery, reuse_problem
from roost_core.engine.run import NodeRef, Run
from roost_core.engine.state import NodeState

_REUSABLE_WHEN_RESUMING = ("task_node", "array_node", "gate_node")


def _task_of(run: Run, ref: NodeRef) -> tasks_pb2.TaskTemplate | None:
    node = ref.node
    kind = node.WhichOneof("target")
    if kind == "array_node":
        node = node.array_node.node
    elif kind != "task_node":
        return None
    try:
        return ref.scope.index.task(node.task_node.reference_id)
    except KeyError:
        return None


def enter_scope(run: Run, ref: NodeRef, prefix: str) -> None:
    """Map a nested scope of ``ref`` (a sub-workflow or dynamic workflow) to the original's."""
    if run.recovery is not None:
        run.recovery.enter_scope(ref.uid, prefix)
        run.recovery.clean.setdefault(prefix, upstream_reused(run, ref))


def _choices(node: workflow_pb2.Node) -> list[workflow_pb2.Node]:
    if_else = node.branch_node.if_else
    choices = [if_else.case.then_node, *(case.then_node for case in if_else.other)]
    if if_else.HasField("else_node"):
        choices.append(if_else.else_node)
    return choices


def outputs_reused(run: Run, uid: str, node: workflow_pb2.Node) -> bool:
    """Whether a node's outputs are the original's: it was reused, or it is a sub-workflow or branch whose
    nodes all were."""
    state = run.state.nodes.get(uid)
    if state is None or not state.phase.is_success:
        return False
    if state.phase is NodePhase.RECOVERED:
        return True
    kind = node.WhichOneof("target")
    if kind == "branch_node":
        taken = next((n for n in _choices(node) if n.id == state.branch_taken), None)
        return taken is not None and outputs_reused(run, f"{uid}-0-{taken.id}", taken)
    if kind == "workflow_node" and node.workflow_node.HasField("sub_workflow_ref"):
        prefix = f"{uid}-{state.attempt}-"
        nodes = run.state.nodes
        for key, child in nodes.items():
            if not key.startswith(prefix) or is_start_or_end(key):
                continue
            if child.phase in (NodePhase.RECOVERED, NodePhase.SKIPPED):
                continue
            # A nested sub-workflow or branch is judged by its own nodes, which the scan visits too.
            if child.phase.is_success and any(k.startswith(f"{key}-") for k in nodes):
                continue
            return False
        return True
    return False


def upstream_reused(run: Run, ref: NodeRef) -> bool:
    """Whether every node ``ref`` depends on kept the original's outputs (and so did its scope's parent's)."""
    scope = ref.scope
    node_id = ref.node.id
    if ref.uid != scope.uid(node_id):
        # A branch's chosen node: it depends on what its branch node depends on.
        node_id = ref.parent_uid[len(scope.prefix) :]
    recovery = run.recovery
    if recovery is None or not recovery.clean.get(scope.prefix, scope.prefix == ""):
        return False
    graph = scope.graph
    return all(outputs_reused(run, scope.uid(up), graph.nodes[up]) for up in graph.upstream.get(node_id, ()))


def _task_problem(run: Run, recovery: Recovery, ref: NodeRef) -> str | None:
    task = _task_of(run, ref)
    if task is None:
        return None
    return reuse_problem(task, recovery.original_task(task.id.name))


def _same_inputs(run: Run, inputs: literals_pb2.LiteralMap, original: NodeState) -> bool:
    if not original.inputs_uri:
        return not inputs.literals
    before = run.literal_map(original.inputs_uri)
    return bool(before.SerializeToString(deterministic=True) == inputs.SerializeToString(deterministic=True))


def _may_reuse_content(run: Run, recovery: Recovery, ref: NodeRef) -> bool:
    """When resuming: the node's task side allows reuse and its upstream kept the original's outputs."""
    return _task_problem(run, recovery, ref) is None and upstream_reused(run, ref)


def try_reuse(run: Run, ref: NodeRef, state: NodeState) -> bool:
    """End a node that has not started RECOVERED with the original's outputs, if it may; True if it did."""
    recovery = run.recovery
    if recovery is None or ref.failure is not None:
        return False
    original = recovery.original(ref.uid)
    if original is None or not original.phase.is_success:
        return False
    kind = ref.node.WhichOneof("target")
    if recovery.resume:
        if kind not in _REUSABLE_WHEN_RESUMING or original.dynamic_closure_uri:
            return False
        if not _may_reuse_content(run, recovery, ref):
            return False
    task = _task_of(run, ref)
    try:
        inputs = common.resolve_inputs(run, ref, task if kind == "task_node" else None)
    except BindingError:
        return False  # the node starts as usual and fails naming the binding
    if recovery.resume and not _same_inputs(run, inputs, original):
        return False
    storage = run.engine.storage
    state.inputs_uri = storage.join(run.data_dir(ref.uid), "inputs.pb")
    run.write_literal_map(state.inputs_uri, inputs)
    if original.outputs_uri:
        state.outputs_uri = storage.join(run.data_dir(ref.uid), "recovered", "outputs.pb")
        run.write_literal_map(state.outputs_uri, run.literal_map(original.outputs_uri))
    state.branch_taken = original.branch_taken
    state.message = f"recovered from execution {recovery.source.key}"
    run.set_phase(ref, state, NodePhase.RECOVERED, target=task.id if task is not None else None)
    return True


def dynamic_workflow(run: Run, ref: NodeRef, state: NodeState) -> str:
    """When recovering, the workflow a dynamic task generated in the original (its compiled closure's URI),
    so the task does not run again and its generated nodes recover one by one; "" otherwise."""
    recovery = run.recovery
    if recovery is None or recovery.resume:
        return ""
    original = recovery.original(ref.uid)
    if original is None or original.phase.is_success:
        return ""
    return original.dynamic_closure_uri


def array_indices(run: Run, ref: NodeRef, state: NodeState) -> list[int]:
    """Mark the indices of a starting map task that succeeded in the original RECOVERED, with copies of
    their outputs; the indices marked. When resuming, only if the task and the inputs are unchanged."""
    recovery = run.recovery
    if recovery is None or not state.subnodes:
        return []
    original = recovery.original(ref.uid)
    if original is None or not original.subnodes or len(original.subnodes) != len(state.subnodes):
        return []
    if recovery.resume and (
        not _may_reuse_content(run, recovery, ref)
        or not _same_inputs(run, run.literal_map(state.inputs_uri), original)
    ):
        return []
    storage = run.engine.storage
    marked: list[int] = []
    for index, (sub, before) in enumerate(zip(state.subnodes, original.subnodes, strict=True)):
        if not before.phase.is_success or not before.outputs_uri:
            continue
        sub.outputs_uri = storage.join(run.data_dir(ref.uid), str(index), "recovered", "outputs.pb")
        run.keep_literal_map(sub.outputs_uri, run.literal_map(before.outputs_uri))
        sub.phase = NodePhase.RECOVERED
        sub.updated_at = run.now
        marked.append(index)
    return marked
