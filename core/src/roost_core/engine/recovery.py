"""Recovery and resume: a new execution that reuses the outputs of an earlier execution's nodes.

*Recover* is Flyte's RecoverExecution: the same workflow version and inputs; every node that succeeded in
the original (inside sub-workflows, branches, dynamic workflows and, per index, map tasks too) ends
RECOVERED with the original's outputs instead of running again, and the rest runs.

*Resume* runs another version of the workflow on the original's inputs. A node's outputs are reused only
when all of these hold, otherwise it runs:

- it succeeded in the original;
- its task is deterministic by declaration (:func:`is_deterministic`);
- its task's template has the same content as the original's (:func:`task_digest`: the version string is
  left out, everything else counts);
- every node it depends on was reused (so everything downstream of a change runs again), and its resolved
  inputs are the original's.

The original's node states are copied into the new execution's data folder when it starts
(:data:`RECOVERY_BLOB`), so the new execution never depends on the original's saved state, which a later
change could not alter anyway: an execution is recovered only once it ended.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from flyteidl.core import compiler_pb2, interface_pb2, tasks_pb2

from roost_core import literal_types
from roost_core.engine.graph import ClosureIndex
from roost_core.engine.state import ExecutionState, NodeState
from roost_core.storage import Storage

RECOVERY_BLOB = "recovery.json"
"""Name of the blob, in the new execution's data folder, holding the original's node states."""

DETERMINISTIC_TAG = "roost.deterministic"
"""TaskMetadata tag declaring a task deterministic (set by ``@task(deterministic=True)``); its value is a
digest of the task's code, so editing the code changes the template."""


def is_deterministic(task: tasks_pb2.TaskTemplate) -> bool:
    """Whether a task's outputs depend only on its inputs and its template, by declaration: Roost's
    ``deterministic`` flag, or Flyte's ``discoverable`` (``cache=True``), which declares the same."""
    return bool(task.metadata.discoverable) or DETERMINISTIC_TAG in task.metadata.tags


_DISTRIBUTION_FLAG = "--additional-distribution"


def task_digest(task: tasks_pb2.TaskTemplate) -> str:
    """A digest of a task template's content, its version string left out.

    For a task carrying :data:`DETERMINISTIC_TAG` with its source's digest, the URL of the fast-registered code
    archive is left out too: it changes with any file of the project, and the tag stands for the task's code.
    """
    copy = tasks_pb2.TaskTemplate()
    copy.CopyFrom(task)
    copy.id.ClearField("version")
    if copy.metadata.tags.get(DETERMINISTIC_TAG):
        args = copy.container.args
        for index in range(len(args) - 1):
            if args[index] == _DISTRIBUTION_FLAG:
                args[index + 1] = ""
    return hashlib.sha256(copy.SerializeToString(deterministic=True)).hexdigest()


@dataclass(slots=True)
class RecoverySource:
    """What a new execution may reuse: the original's node states and compiled workflow."""

    key: str
    """``project/domain/name`` of the original execution."""
    resume: bool
    """True for resume (content-checked reuse), False for Flyte's recover."""
    closure_uri: str
    nodes: dict[str, NodeState] = field(default_factory=dict)

    @classmethod
    def of(cls, original: ExecutionState, *, resume: bool = False) -> RecoverySource:
        """The source for recovering or resuming ``original``."""
        return cls(original.key, resume, original.closure_uri, dict(original.nodes))

    def to_bytes(self) -> bytes:
        """JSON, as stored in :data:`RECOVERY_BLOB`."""
        data: dict[str, Any] = {
            "key": self.key,
            "resume": self.resume,
            "closure_uri": self.closure_uri,
            "nodes": {uid: node.to_dict() for uid, node in self.nodes.items()},
        }
        return json.dumps(data, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> RecoverySource:
        """Inverse of :meth:`to_bytes`."""
        loaded = json.loads(data)
        return cls(
            key=loaded["key"],
            resume=loaded["resume"],
            closure_uri=loaded["closure_uri"],
            nodes={uid: NodeState.from_dict(n) for uid, n in loaded["nodes"].items()},
        )


class Recovery:
    """A running execution's view of its recovery source: maps its node ids to the original's.

    Nested scopes are named by their parent's attempt (``n1-0-``), which may differ from the original's;
    :meth:`enter_scope` records each nested scope's original prefix as the scope is entered.
    """

    def __init__(self, source: RecoverySource, storage: Storage) -> None:
        self.source = source
        self._storage = storage
        self._prefixes: dict[str, str] = {"": ""}
        self.clean: dict[str, bool] = {}
        """Per nested scope prefix: whether its parent's upstream nodes all kept the original's outputs."""
        self._tasks: dict[str, tasks_pb2.TaskTemplate] | None = None

    @property
    def resume(self) -> bool:
        """Whether reuse is content-checked (resume) rather than Flyte's recover."""
        return self.source.resume

    def original_uid(self, uid: str) -> str:
        """The id the node with unique id ``uid`` had in the original execution."""
        best = ""
        for prefix in self._prefixes:
            if len(prefix) > len(best) and uid.startswith(prefix):
                best = prefix
        return self._prefixes[best] + uid[len(best) :]

    def original(self, uid: str) -> NodeState | None:
        """The original's state of the node with unique id ``uid``, if it had one."""
        return self.source.nodes.get(self.original_uid(uid))

    def enter_scope(self, parent_uid: str, prefix: str) -> None:
        """Map a nested scope of node ``parent_uid`` (``prefix`` = ``<uid>-<attempt>-``) to the original's."""
        if prefix in self._prefixes:
            return
        original_parent = self.original_uid(parent_uid)
        state = self.source.nodes.get(original_parent)
        if state is not None:
            self._prefixes[prefix] = f"{original_parent}-{state.attempt}-"

    def original_task(self, name: str) -> tasks_pb2.TaskTemplate | None:
        """The task of this name the original ran (its compiled workflow's, or a dynamic workflow's)."""
        if self._tasks is None:
            self._tasks = original_tasks(self.source, self._storage)
        return self._tasks.get(name)


def original_tasks(source: RecoverySource, storage: Storage) -> dict[str, tasks_pb2.TaskTemplate]:
    """The tasks of the original execution by name: its closure's and its dynamic workflows'."""
    uris = [
        source.closure_uri,
        *(n.dynamic_closure_uri for n in source.nodes.values() if n.dynamic_closure_uri),
    ]
    tasks: dict[str, tasks_pb2.TaskTemplate] = {}
    for uri in uris:
        closure = storage.read_proto(uri, compiler_pb2.CompiledWorkflowClosure)
        for compiled in closure.tasks:
            tasks.setdefault(compiled.template.id.name, compiled.template)
    return tasks


def reuse_problem(task: tasks_pb2.TaskTemplate | None, original: tasks_pb2.TaskTemplate | None) -> str | None:
    """Why a node running ``task`` cannot reuse the original's outputs when resuming (its task side), or None."""
    if task is None:
        return None
    if not is_deterministic(task):
        return f"task {task.id.name!r} is not declared deterministic"
    if original is None:
        return f"task {task.id.name!r} did not run in the original execution"
    if task_digest(task) != task_digest(original):
        return f"task {task.id.name!r} changed"
    return None


def interface_changes(
    original: compiler_pb2.CompiledWorkflowClosure, new: compiler_pb2.CompiledWorkflowClosure
) -> list[str]:
    """What keeps an execution of ``original`` from being resumed on ``new``: named inputs and outputs
    that changed type, and inputs the new version requires that the original did not have."""
    problems: list[str] = []
    before = original.primary.template.interface
    after = new.primary.template.interface
    for kind, old_vars, new_vars in (
        ("input", before.inputs.variables, after.inputs.variables),
        ("output", before.outputs.variables, after.outputs.variables),
    ):
        for name in sorted(set(old_vars) & set(new_vars)):
            problem = _type_change(kind, name, old_vars[name], new_vars[name])
            if problem:
                problems.append(problem)
    return problems


def _type_change(kind: str, name: str, old: interface_pb2.Variable, new: interface_pb2.Variable) -> str:
    if old.type.SerializeToString(deterministic=True) == new.type.SerializeToString(deterministic=True):
        return ""
    return (
        f"{kind} {name!r} changed type from {literal_types.describe(old.type)} "
        f"to {literal_types.describe(new.type)}"
    )


def index_of(source: RecoverySource, storage: Storage) -> ClosureIndex:
    """The original's compiled workflow, indexed."""
    return ClosureIndex(storage.read_proto(source.closure_uri, compiler_pb2.CompiledWorkflowClosure))


@dataclass(frozen=True, slots=True)
class Decision:
    """What resuming will do with one node: reuse the original's outputs or run it, and why."""

    node: str
    """The node's unique id (``n2``, ``n1-0-n0`` inside a sub-workflow)."""
    reuse: bool
    reason: str


def plan_resume(
    source: RecoverySource, new: compiler_pb2.CompiledWorkflowClosure, storage: Storage
) -> list[Decision]:
    """What resuming ``source``'s execution on the workflow ``new`` will reuse and re-run, in dependency
    order, decided by the same rules the engine applies. Nodes inside dynamic workflows and branches whose
    upstream changed are decided when they run."""
    return _Planner(source, new, storage).plan()


class _Planner:
    def __init__(
        self, source: RecoverySource, new: compiler_pb2.CompiledWorkflowClosure, storage: Storage
    ) -> None:
        self.source = source
        self.index = ClosureIndex(new)
        self.tasks = original_tasks(source, storage)
        self.decisions: list[Decision] = []

    def plan(self) -> list[Decision]:
        self._walk(self.index.primary, "", "", clean=True)
        return self.decisions

    def _walk(self, graph: Any, prefix: str, original_prefix: str, *, clean: bool) -> bool:
        reused: dict[str, bool] = {}
        for node_id in graph.order:
            upstream_clean = clean and all(reused[up] for up in graph.upstream[node_id])
            reused[node_id] = self._judge(
                graph.nodes[node_id], prefix + node_id, original_prefix + node_id, upstream_clean
            )
        return all(reused.values())

    def _decide(self, uid: str, reuse: bool, reason: str) -> bool:
        self.decisions.append(Decision(uid, reuse, reason))
        return reuse

    def _task(self, node: Any) -> tasks_pb2.TaskTemplate | None:
        if node.WhichOneof("target") == "array_node":
            node = node.array_node.node
        if node.WhichOneof("target") != "task_node":
            return None
        try:
            return self.index.task(node.task_node.reference_id)
        except KeyError:
            return None

    def _judge(self, node: Any, uid: str, original_uid: str, clean: bool) -> bool:
        original = self.source.nodes.get(original_uid)
        kind = node.WhichOneof("target")
        if kind == "workflow_node" and node.workflow_node.HasField("sub_workflow_ref"):
            attempt = original.attempt if original is not None else 0
            graph = self.index.workflow(node.workflow_node.sub_workflow_ref)
            whole = self._walk(graph, f"{uid}-0-", f"{original_uid}-{attempt}-", clean=clean)
            reason = "all its nodes are reused" if whole else "some of its nodes re-run"
            return self._decide(uid, whole, f"sub-workflow: {reason}")
        if kind == "branch_node":
            if original is None or not original.branch_taken or not clean:
                return self._decide(uid, False, "branch: its case is chosen again when it runs")
            taken = original.branch_taken
            cases = [node.branch_node.if_else.case.then_node]
            cases += [case.then_node for case in node.branch_node.if_else.other]
            if node.branch_node.if_else.HasField("else_node"):
                cases.append(node.branch_node.if_else.else_node)
            chosen = next((case for case in cases if case.id == taken), None)
            if chosen is None:
                return self._decide(uid, False, f"branch: the case {taken!r} taken before is gone")
            whole = self._judge(chosen, f"{uid}-0-{taken}", f"{original_uid}-0-{taken}", clean)
            return self._decide(uid, whole, f"branch: takes {taken!r} again")
        task = self._task(node)
        problem = reuse_problem(task, self.tasks.get(task.id.name) if task is not None else None)
        if problem is not None:
            return self._decide(uid, False, problem)
        if not clean:
            return self._decide(uid, False, "a node it depends on re-runs")
        if original is None:
            return self._decide(uid, False, "it did not run in the original execution")
        if not original.phase.is_success:
            return self._decide(
                uid, False, f"it ended {original.phase.name.lower()} in the original execution"
            )
        if kind == "workflow_node":
            return self._decide(uid, False, "launch plan nodes run again when resuming")
        if original.dynamic_closure_uri:
            return self._decide(uid, False, "dynamic task: it runs again to generate its workflow")
        return self._decide(uid, True, "unchanged")
