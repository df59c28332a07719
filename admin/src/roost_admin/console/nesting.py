"""What the execution page's graph shows inside nodes: the phases of a drawing's boxes from their node
executions, a branch's path taken, a map node's subtasks per phase, a launch plan node's child execution, and,
for the nodes the page's address opens (``?expand=``), a sub-workflow's or dynamic node's own nodes.

Only what is drawn is read: a closed sub-workflow or dynamic node costs nothing, so a large execution's page
reads its top-level node executions once, plus one read per map node, branch and opened node."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flyteidl.admin import node_execution_pb2, task_execution_pb2
from flyteidl.admin.node_execution_pb2 import NodeExecution
from flyteidl.core import compiler_pb2, identifier_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2

from roost_admin.console import graph
from roost_admin.console.reader import Reader

Templates = Mapping[tuple[str, str, str, str], compiler_pb2.CompiledWorkflow]
_NODE_PHASE = core_execution_pb2.NodeExecution.Phase.Name
_TASK_PHASE = core_execution_pb2.TaskExecution.Phase.Name
_DECIDED = {
    core_execution_pb2.NodeExecution.SUCCEEDED,
    core_execution_pb2.NodeExecution.FAILED,
    core_execution_pb2.NodeExecution.TIMED_OUT,
    core_execution_pb2.NodeExecution.ABORTED,
}
"""Phases of a branch node after which a case that did not run never will."""


def templates(compiled: compiler_pb2.CompiledWorkflowClosure) -> dict[tuple[str, str, str, str], Any]:
    """A compiled closure's sub-workflows by identifier (what a workflow node's ``sub_workflow_ref`` names)."""
    return {_ref(sub.template.id): sub for sub in compiled.sub_workflows}


def _ref(ident: identifier_pb2.Identifier) -> tuple[str, str, str, str]:
    return (ident.project, ident.domain, ident.name, ident.version)


class Nested:
    """Fills drawings of one execution's graph from its node executions, reading through ``reader``."""

    def __init__(
        self,
        reader: Reader,
        execution: identifier_pb2.WorkflowExecutionIdentifier,
        expanded: frozenset[str],
        execution_url: Callable[[Any], str],
    ) -> None:
        self.reader = reader
        self.execution = execution
        self.expanded = expanded
        self.execution_url = execution_url
        self.opened: set[str] = set()
        """The nodes asked for that were opened: what the page's links keep open (the rest of the address's
        ``expand`` values name nothing that opens)."""

    def fill(self, drawn: graph.Drawing, runs: Mapping[str, NodeExecution], subs: Templates) -> None:
        """Give each box of ``drawn`` what its node execution says (``runs``: by the node's id in the spec) and
        open what is asked for; ``subs`` are the sub-workflows the drawing's nodes may name."""
        for box in drawn.boxes:
            found = runs.get(box.spec_id)
            if found is not None:
                box.key = found.id.node_id
                box.phase = _NODE_PHASE(found.closure.phase)
            if box.kind == "workflow":
                self._workflow(box, found, subs)
            elif box.kind == "branch":
                self._branch(box, found, subs)
            elif box.kind == "array" and found is not None:
                box.counts = self._counts(found)
            elif found is not None and found.metadata.is_dynamic:
                self._dynamic(box, found, subs)

    def _children(self, parent: NodeExecution | None) -> dict[str, NodeExecution]:
        """A parent node execution's children by their node's id in the spec (a later attempt's over an
        earlier one's)."""
        if parent is None or not parent.metadata.is_parent_node:
            return {}
        listed = self.reader.call(
            "ListNodeExecutions",
            node_execution_pb2.NodeExecutionListRequest(
                workflow_execution_id=self.execution, unique_parent_id=parent.id.node_id, limit=10_000
            ),
        ).node_executions
        return {child.metadata.spec_node_id or child.id.node_id: child for child in listed}

    def _workflow(self, box: graph.Box, found: NodeExecution | None, subs: Templates) -> None:
        target = box.node.workflow_node
        if target.HasField("launchplan_ref"):
            if found is not None and found.closure.HasField("workflow_node_metadata"):
                box.child_url = self.execution_url(found.closure.workflow_node_metadata.executionId)
            return
        sub = subs.get(_ref(target.sub_workflow_ref))
        if sub is None:
            return
        box.expandable = True
        if box.key in self.expanded:
            self.opened.add(box.key)
            box.inner = graph.drawing(sub, box.key)
            self.fill(box.inner, self._children(found), subs)

    def _dynamic(self, box: graph.Box, found: NodeExecution, subs: Templates) -> None:
        box.expandable = True
        if box.key not in self.expanded:
            return
        self.opened.add(box.key)
        data = self.reader.call(
            "GetNodeExecutionData", node_execution_pb2.NodeExecutionGetDataRequest(id=found.id)
        )
        if not data.HasField("dynamic_workflow"):  # not built yet: nothing to open
            return
        compiled = data.dynamic_workflow.compiled_workflow
        box.inner = graph.drawing(compiled.primary, box.key)
        self.fill(box.inner, self._children(found), {**subs, **templates(compiled)})

    def _branch(self, box: graph.Box, found: NodeExecution | None, subs: Templates) -> None:
        """The cases of a branch, the one that ran marked ``taken`` and the others ``not-taken`` (the engine
        records those SKIPPED); a failing ``else`` is the path taken when the branch failed and no case ran."""
        if box.inner is None:
            return
        self.fill(box.inner, self._children(found), subs)
        cases = [case for case in box.inner.boxes if case.kind != "fail"]
        ran = any(case.phase not in ("UNDEFINED", "SKIPPED") for case in cases)
        if found is None or not (ran or found.closure.phase in _DECIDED):
            return
        for case in cases:
            case.path = "not-taken" if case.phase in ("UNDEFINED", "SKIPPED") else "taken"
        for fail in (case for case in box.inner.boxes if case.kind == "fail"):
            failed = not ran and found.closure.phase == core_execution_pb2.NodeExecution.FAILED
            fail.path = "taken" if failed else "not-taken"
            fail.phase = "FAILED" if failed else "SKIPPED"

    def _counts(self, found: NodeExecution) -> list[tuple[str, int]]:
        """A map node's subtasks per phase, as its latest attempt's task execution reports them (an external
        resource per subtask, its latest retry counted)."""
        attempts = self.reader.call(
            "ListTaskExecutions",
            task_execution_pb2.TaskExecutionListRequest(node_execution_id=found.id, limit=1000),
        ).task_executions
        if not attempts:
            return []
        latest = max(attempts, key=lambda attempt: attempt.id.retry_attempt)
        phases: dict[int, tuple[int, int]] = {}
        for resource in latest.closure.metadata.external_resources:
            seen = phases.get(resource.index)
            if seen is None or resource.retry_attempt >= seen[0]:
                phases[resource.index] = (resource.retry_attempt, resource.phase)
        counted: dict[int, int] = {}
        for _, phase in phases.values():
            counted[phase] = counted.get(phase, 0) + 1
        return [(_TASK_PHASE(phase), count) for phase, count in sorted(counted.items())]
