"""Read-only views of compiled workflows that the engine walks every round.

Built once per compiled closure (and per dynamic closure) and kept in memory, never in the saved state.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass

from flyteidl.core import compiler_pb2, identifier_pb2, tasks_pb2, workflow_pb2

START_NODE = "start-node"
END_NODE = "end-node"


def is_start_or_end(uid: str) -> bool:
    """Whether a node execution id (``n0-0-start-node`` included) names a workflow's start or end node:
    bookkeeping that flyteadmin lists but users are not shown (flytekit skips them too)."""
    return any(uid == node or uid.endswith(f"-{node}") for node in (START_NODE, END_NODE))


IdKey = tuple[str, str, str, str]
"""(project, domain, name, version): how entities are looked up."""


def id_key(identifier: identifier_pb2.Identifier) -> IdKey:
    """The lookup key of an identifier (resource type left out: references name it loosely)."""
    return (identifier.project, identifier.domain, identifier.name, identifier.version)


def id_text(identifier: identifier_pb2.Identifier) -> str:
    """``name@version`` for messages."""
    return str(f"{identifier.name}@{identifier.version}" if identifier.version else identifier.name)


@dataclass(frozen=True, slots=True)
class WorkflowGraph:
    """A compiled workflow: its nodes in dependency order, with each node's upstream nodes."""

    template: workflow_pb2.WorkflowTemplate
    nodes: dict[str, workflow_pb2.Node]
    order: tuple[str, ...]
    """Executable node ids (start and end nodes left out), upstream before downstream."""
    upstream: dict[str, tuple[str, ...]]
    """Executable upstream node ids of each node (each once); the end node's entry lists the leaves."""
    downstream: dict[str, tuple[str, ...]]
    """Executable downstream node ids of each node."""
    position: dict[str, int]
    """Each node's index in ``order``."""
    start: workflow_pb2.Node
    """The ``start-node``: its outputs are the workflow's inputs."""
    end: workflow_pb2.Node
    """The ``end-node``: its inputs are the workflow's outputs."""

    @property
    def name(self) -> str:
        """The workflow's name, for messages."""
        return str(self.template.id.name)

    @classmethod
    def build(cls, compiled: compiler_pb2.CompiledWorkflow) -> WorkflowGraph:
        """Index a compiled workflow; node order is a topological sort stable in template order."""
        template = compiled.template
        nodes = {n.id: n for n in template.nodes if n.id not in (START_NODE, END_NODE)}
        # The compiler adds both; workflows built by hand may lack them.
        bookends = {node_id: workflow_pb2.Node(id=node_id) for node_id in (START_NODE, END_NODE)}
        bookends.update((n.id, n) for n in template.nodes if n.id in bookends)
        upstream: dict[str, tuple[str, ...]] = {}
        for node_id in (*nodes, END_NODE):
            ids: Iterable[str] = ()
            if node_id in compiled.connections.upstream:
                ids = compiled.connections.upstream[node_id].ids
            elif node_id in nodes:
                ids = nodes[node_id].upstream_node_ids
            upstream[node_id] = tuple(dict.fromkeys(i for i in ids if i in nodes))
        downstream: dict[str, list[str]] = {node_id: [] for node_id in nodes}
        for node_id in nodes:
            for up in upstream[node_id]:
                downstream[up].append(node_id)
        order = _topological(nodes, upstream, downstream)
        return cls(
            template,
            nodes,
            order,
            upstream,
            {node_id: tuple(ids) for node_id, ids in downstream.items()},
            {node_id: index for index, node_id in enumerate(order)},
            bookends[START_NODE],
            bookends[END_NODE],
        )


def _topological(
    nodes: dict[str, workflow_pb2.Node],
    upstream: dict[str, tuple[str, ...]],
    downstream: dict[str, list[str]],
) -> tuple[str, ...]:
    remaining = {node_id: len(upstream[node_id]) for node_id in nodes}
    index = {node_id: i for i, node_id in enumerate(nodes)}
    ready = [(index[node_id], node_id) for node_id in nodes if remaining[node_id] == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, node_id = heapq.heappop(ready)
        order.append(node_id)
        for down in downstream[node_id]:
            remaining[down] -= 1
            if remaining[down] == 0:
                heapq.heappush(ready, (index[down], down))
    if len(order) != len(nodes):
        stuck = sorted(set(nodes) - set(order))
        raise ValueError(f"workflow has a cycle through {', '.join(stuck)}")
    return tuple(order)


class ClosureIndex:
    """Tasks, workflows and launch plans of one compiled closure, by identifier."""

    def __init__(
        self, closure: compiler_pb2.CompiledWorkflowClosure, parent: ClosureIndex | None = None
    ) -> None:
        self.closure = closure
        self.primary = WorkflowGraph.build(closure.primary)
        self._parent = parent
        self._tasks = {id_key(t.template.id): t.template for t in closure.tasks}
        self._workflows = {id_key(w.template.id): w for w in closure.sub_workflows}
        self._graphs: dict[IdKey, WorkflowGraph] = {}
        self._launch_plans = {id_key(lp.template.id): lp.template for lp in closure.launch_plans}

    def task(self, identifier: identifier_pb2.Identifier) -> tasks_pb2.TaskTemplate:
        """The task template with this id; KeyError naming it if the closure lacks it."""
        key = id_key(identifier)
        found = self._tasks.get(key)
        if found is not None:
            return found
        if self._parent is not None:
            return self._parent.task(identifier)
        raise KeyError(f"task {id_text(identifier)} is not in the compiled workflow")

    def workflow(self, identifier: identifier_pb2.Identifier) -> WorkflowGraph:
        """The sub-workflow with this id, indexed."""
        key = id_key(identifier)
        graph = self._graphs.get(key)
        if graph is None:
            compiled = self._workflows.get(key)
            if compiled is None:
                if self._parent is not None:
                    return self._parent.workflow(identifier)
                raise KeyError(f"sub-workflow {id_text(identifier)} is not in the compiled workflow")
            graph = self._graphs[key] = WorkflowGraph.build(compiled)
        return graph

    def launch_plan(self, identifier: identifier_pb2.Identifier) -> workflow_pb2.LaunchPlanTemplate | None:
        """The launch plan template with this id, if the closure carries it."""
        found = self._launch_plans.get(id_key(identifier))
        if found is None and self._parent is not None:
            return self._parent.launch_plan(identifier)
        return found
