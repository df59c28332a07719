"""GetExecutionMetrics: an execution broken down into a tree of spans, as flyteadmin returns it.

The root span names the execution (``workflow_id``); its children are operation spans for the admin's and the
engine's own time (``WORKFLOW_SETUP`` until the start node ran, ``NODE_TRANSITION`` between an upstream node
ending and a node being created, ``WORKFLOW_TEARDOWN`` after the last node) and one span per node (``node_id``).
A node's span holds ``NODE_SETUP``, its task attempts (``task_id`` spans of ``TASK_SETUP``, ``TASK_RUNTIME`` and
``TASK_TEARDOWN``, with ``NODE_RESET`` between retries), the nodes of its sub-workflow, branch or dynamic
workflow, the child execution of a launch-plan node, ``NODE_IDLE`` for a gate's wait, and ``NODE_TEARDOWN``.
``depth`` limits how many levels are broken down (0: the root span alone; negative: no limit). The spans are
built from the admin's own records through the public operations of the other services.
"""

from __future__ import annotations

import datetime

from flyteidl.admin import common_pb2, execution_pb2, node_execution_pb2, task_execution_pb2
from flyteidl.core import compiler_pb2, identifier_pb2, metrics_pb2, workflow_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from google.protobuf import timestamp_pb2

from roost_admin.services.base import Service
from roost_admin.services.context import ServiceContext
from roost_admin.services.executions import Executions
from roost_admin.services.nodes import NodeExecutions
from roost_admin.services.registry import Registry
from roost_core.engine.graph import END_NODE, START_NODE

_PAGE = 100


def _operation(start: timestamp_pb2.Timestamp, end: timestamp_pb2.Timestamp, name: str) -> metrics_pb2.Span:
    if _time(start) > _time(end):
        start = end  # within rounding (see _not_before): a span never ends before it starts
    return metrics_pb2.Span(start_time=start, end_time=end, operation_id=name)


def _time(stamp: timestamp_pb2.Timestamp) -> datetime.datetime:
    return stamp.ToDatetime()


_SKEW = datetime.timedelta(milliseconds=1)
"""Times recorded apart (a task's end computed from its start and duration) may differ by rounding."""


def _not_before(later: timestamp_pb2.Timestamp, earlier: timestamp_pb2.Timestamp) -> bool:
    """Whether ``later`` is not before ``earlier``, give or take rounding: a teardown span then follows."""
    return _time(later) >= _time(earlier) - _SKEW


def _set(stamp: timestamp_pb2.Timestamp) -> bool:
    return bool(stamp.seconds or stamp.nanos)


def _ended(start: timestamp_pb2.Timestamp, duration: object) -> timestamp_pb2.Timestamp:
    end = timestamp_pb2.Timestamp()
    end.FromDatetime(start.ToDatetime() + duration.ToTimedelta())  # type: ignore[attr-defined]
    return end


class Metrics(Service):
    """Execution metrics as a span tree."""

    def __init__(
        self, context: ServiceContext, executions: Executions, nodes: NodeExecutions, registry: Registry
    ) -> None:
        super().__init__(context)
        self._executions = executions
        self._nodes = nodes
        self._registry = registry

    def get_execution_metrics(
        self, request: execution_pb2.WorkflowExecutionGetMetricsRequest
    ) -> execution_pb2.WorkflowExecutionGetMetricsResponse:
        """The execution's span tree, ``depth`` levels deep."""
        execution = self._executions.get_execution(execution_pb2.WorkflowExecutionGetRequest(id=request.id))
        return execution_pb2.WorkflowExecutionGetMetricsResponse(
            span=self._execution(execution, request.depth)
        )

    # listing

    def _node_executions(
        self, execution_id: identifier_pb2.WorkflowExecutionIdentifier, parent: str = ""
    ) -> dict[str, node_execution_pb2.NodeExecution]:
        found: dict[str, node_execution_pb2.NodeExecution] = {}
        token = ""
        while True:
            page = self._nodes.list_node_executions(
                node_execution_pb2.NodeExecutionListRequest(
                    workflow_execution_id=execution_id, limit=_PAGE, token=token, unique_parent_id=parent
                )
            )
            for node in page.node_executions:
                found[node.metadata.spec_node_id or node.id.node_id] = node
            token = page.token
            if not token:
                return found

    def _task_executions(
        self, node: node_execution_pb2.NodeExecution
    ) -> list[task_execution_pb2.TaskExecution]:
        found: list[task_execution_pb2.TaskExecution] = []
        token = ""
        while True:
            page = self._nodes.list_task_executions(
                task_execution_pb2.TaskExecutionListRequest(
                    node_execution_id=node.id, limit=_PAGE, token=token
                )
            )
            found.extend(page.task_executions)
            token = page.token
            if not token:
                return sorted(found, key=lambda t: _time(t.closure.created_at))

    # spans

    def _execution(self, execution: execution_pb2.Execution, depth: int) -> metrics_pb2.Span:
        closure = execution.closure
        span = metrics_pb2.Span(
            start_time=closure.created_at, end_time=closure.updated_at, workflow_id=execution.id
        )
        if depth == 0:
            return span
        nodes = self._node_executions(execution.id)
        start = nodes.get(START_NODE)
        if start is None or not _set(start.closure.updated_at):
            span.spans.append(_operation(closure.created_at, closure.updated_at, "WORKFLOW_SETUP"))
            return span
        span.spans.append(_operation(closure.created_at, start.closure.updated_at, "WORKFLOW_SETUP"))
        compiled = self._compiled(closure.workflow_id)
        self._nodes_spans(nodes, compiled, span.spans, depth - 1)
        last = self._latest_upstream(END_NODE, compiled, nodes)
        if last is not None and _not_before(closure.updated_at, last.closure.updated_at):
            span.spans.append(_operation(last.closure.updated_at, closure.updated_at, "WORKFLOW_TEARDOWN"))
        return span

    def _compiled(self, workflow_id: identifier_pb2.Identifier) -> compiler_pb2.CompiledWorkflowClosure:
        if not workflow_id.name:
            return compiler_pb2.CompiledWorkflowClosure()
        workflow = self._registry.get_workflow(common_pb2.ObjectGetRequest(id=workflow_id))
        return workflow.closure.compiled_workflow

    @staticmethod
    def _latest_upstream(
        node_id: str,
        closure: compiler_pb2.CompiledWorkflowClosure,
        nodes: dict[str, node_execution_pb2.NodeExecution],
    ) -> node_execution_pb2.NodeExecution | None:
        upstream = closure.primary.connections.upstream
        latest: node_execution_pb2.NodeExecution | None = None
        if node_id in upstream:
            for up in upstream[node_id].ids:
                found = nodes.get(up)
                if found is not None and (
                    latest is None or _time(found.closure.updated_at) > _time(latest.closure.updated_at)
                ):
                    latest = found
        return latest

    def _nodes_spans(
        self,
        nodes: dict[str, node_execution_pb2.NodeExecution],
        closure: compiler_pb2.CompiledWorkflowClosure,
        spans: list[metrics_pb2.Span],
        depth: int,
    ) -> None:
        definitions = {node.id: node for node in closure.primary.template.nodes}
        for node in sorted(nodes.values(), key=lambda n: _time(n.closure.created_at)):
            spec_id = node.metadata.spec_node_id or node.id.node_id
            if spec_id in (START_NODE, END_NODE) or spec_id not in definitions:
                continue
            span = self._node(node, definitions[spec_id], closure, depth)
            upstream = self._latest_upstream(spec_id, closure, nodes)
            if upstream is not None:
                children = list(span.spans)
                del span.spans[:]
                span.spans.append(
                    _operation(upstream.closure.updated_at, node.closure.created_at, "NODE_TRANSITION")
                )
                span.spans.extend(children)
            spans.append(span)

    def _node(
        self,
        node: node_execution_pb2.NodeExecution,
        definition: workflow_pb2.Node,
        closure: compiler_pb2.CompiledWorkflowClosure,
        depth: int,
    ) -> metrics_pb2.Span:
        span = metrics_pb2.Span(
            start_time=node.closure.created_at, end_time=node.closure.updated_at, node_id=node.id
        )
        if depth == 0:
            return span
        kind = definition.WhichOneof("target")
        spans = span.spans
        if kind == "branch_node":
            self._branch(node, definition, closure, spans, depth - 1)
        elif kind == "gate_node":
            self._gate(node, spans)
        elif kind in ("task_node", "array_node"):
            self._task_node(node, spans, depth - 1)
        elif kind == "workflow_node" and definition.workflow_node.HasField("launchplan_ref"):
            self._launch_plan(node, spans, depth - 1)
        elif kind == "workflow_node":
            sub = next(
                (
                    w
                    for w in closure.sub_workflows
                    if w.template.id == definition.workflow_node.sub_workflow_ref
                ),
                None,
            )
            if sub is not None:
                nested = compiler_pb2.CompiledWorkflowClosure(
                    primary=sub, sub_workflows=closure.sub_workflows, tasks=closure.tasks
                )
                self._children(node, nested, spans, depth - 1)
        return span

    def _children(
        self,
        node: node_execution_pb2.NodeExecution,
        closure: compiler_pb2.CompiledWorkflowClosure,
        spans: list[metrics_pb2.Span],
        depth: int,
    ) -> None:
        """A parent node's own nodes: setup until its start node, their spans, teardown after the last."""
        children = self._node_executions(node.id.execution_id, node.id.node_id)
        start = children.get(START_NODE)
        if start is None:
            spans.append(_operation(node.closure.created_at, node.closure.updated_at, "NODE_SETUP"))
            return
        spans.append(_operation(node.closure.created_at, start.closure.updated_at, "NODE_SETUP"))
        self._nodes_spans(children, closure, spans, depth)
        last = self._latest_upstream(END_NODE, closure, children)
        if last is not None and _not_before(node.closure.updated_at, last.closure.updated_at):
            spans.append(_operation(last.closure.updated_at, node.closure.updated_at, "NODE_TEARDOWN"))

    def _branch(
        self,
        node: node_execution_pb2.NodeExecution,
        definition: workflow_pb2.Node,
        closure: compiler_pb2.CompiledWorkflowClosure,
        spans: list[metrics_pb2.Span],
        depth: int,
    ) -> None:
        children = self._taken(node)
        if not children:
            spans.append(_operation(node.closure.created_at, node.closure.updated_at, "NODE_SETUP"))
            return
        taken = children[0]
        if_else = definition.branch_node.if_else
        cases = [if_else.case.then_node, *(case.then_node for case in if_else.other)]
        if if_else.HasField("else_node"):
            cases.append(if_else.else_node)
        chosen = next((case for case in cases if case.id == taken.metadata.spec_node_id), None)
        spans.append(_operation(node.closure.created_at, taken.closure.created_at, "NODE_SETUP"))
        if chosen is not None:
            spans.append(self._node(taken, chosen, closure, depth))
        if _not_before(node.closure.updated_at, taken.closure.updated_at):
            spans.append(_operation(taken.closure.updated_at, node.closure.updated_at, "NODE_TEARDOWN"))

    def _taken(self, node: node_execution_pb2.NodeExecution) -> list[node_execution_pb2.NodeExecution]:
        """The branch's chosen node (the cases not taken are reported skipped)."""
        children = self._node_executions(node.id.execution_id, node.id.node_id).values()
        return [c for c in children if c.closure.phase != core_execution_pb2.NodeExecution.SKIPPED]

    @staticmethod
    def _gate(node: node_execution_pb2.NodeExecution, spans: list[metrics_pb2.Span]) -> None:
        closure = node.closure
        if not _set(closure.started_at):
            spans.append(_operation(closure.created_at, closure.updated_at, "NODE_SETUP"))
            return
        spans.append(_operation(closure.created_at, closure.started_at, "NODE_SETUP"))
        if not (closure.duration.seconds or closure.duration.nanos):
            spans.append(_operation(closure.started_at, closure.updated_at, "NODE_IDLE"))
            return
        end = _ended(closure.started_at, closure.duration)
        spans.append(_operation(closure.started_at, end, "NODE_IDLE"))
        spans.append(_operation(end, closure.updated_at, "NODE_TEARDOWN"))

    def _task_node(
        self, node: node_execution_pb2.NodeExecution, spans: list[metrics_pb2.Span], depth: int
    ) -> None:
        tasks = self._task_executions(node)
        if not tasks:
            spans.append(_operation(node.closure.created_at, node.closure.updated_at, "NODE_SETUP"))
            return
        spans.append(_operation(node.closure.created_at, tasks[0].closure.created_at, "NODE_SETUP"))
        for index, task in enumerate(tasks):
            if index:
                spans.append(
                    _operation(tasks[index - 1].closure.updated_at, task.closure.created_at, "NODE_RESET")
                )
            if depth != 0:
                spans.append(self._task(task))
        last = tasks[-1]
        if node.metadata.is_parent_node:
            data = self._nodes.get_node_execution_data(
                node_execution_pb2.NodeExecutionGetDataRequest(id=node.id)
            )
            children = self._node_executions(node.id.execution_id, node.id.node_id)
            start = children.get(START_NODE)
            if start is not None and data.HasField("dynamic_workflow"):
                spans.append(_operation(last.closure.updated_at, start.closure.updated_at, "NODE_RESET"))
                closure = data.dynamic_workflow.compiled_workflow
                self._nodes_spans(children, closure, spans, depth)
                final = self._latest_upstream(END_NODE, closure, children)
                if final is not None and _not_before(node.closure.updated_at, final.closure.updated_at):
                    spans.append(
                        _operation(final.closure.updated_at, node.closure.updated_at, "NODE_TEARDOWN")
                    )
                return
        if _not_before(node.closure.updated_at, last.closure.updated_at):
            spans.append(_operation(last.closure.updated_at, node.closure.updated_at, "NODE_TEARDOWN"))

    @staticmethod
    def _task(task: task_execution_pb2.TaskExecution) -> metrics_pb2.Span:
        closure = task.closure
        span = metrics_pb2.Span(start_time=closure.created_at, end_time=closure.updated_at, task_id=task.id)
        if not _set(closure.started_at):
            span.spans.append(_operation(closure.created_at, closure.updated_at, "TASK_SETUP"))
            return span
        span.spans.append(_operation(closure.created_at, closure.started_at, "TASK_SETUP"))
        if not (closure.duration.seconds or closure.duration.nanos):
            span.spans.append(_operation(closure.started_at, closure.updated_at, "TASK_RUNTIME"))
            return span
        end = _ended(closure.started_at, closure.duration)
        span.spans.append(_operation(closure.started_at, end, "TASK_RUNTIME"))
        if _not_before(closure.updated_at, end):
            span.spans.append(_operation(end, closure.updated_at, "TASK_TEARDOWN"))
        return span

    def _launch_plan(
        self, node: node_execution_pb2.NodeExecution, spans: list[metrics_pb2.Span], depth: int
    ) -> None:
        child_id = node.closure.workflow_node_metadata.executionId
        if not child_id.name:
            spans.append(_operation(node.closure.created_at, node.closure.updated_at, "NODE_SETUP"))
            return
        child = self._executions.get_execution(execution_pb2.WorkflowExecutionGetRequest(id=child_id))
        spans.append(_operation(node.closure.created_at, child.closure.created_at, "NODE_SETUP"))
        spans.append(self._execution(child, depth))
        if _not_before(node.closure.updated_at, child.closure.updated_at):
            spans.append(_operation(child.closure.updated_at, node.closure.updated_at, "NODE_TEARDOWN"))
