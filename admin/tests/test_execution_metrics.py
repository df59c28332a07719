"""GetExecutionMetrics: the span tree of an execution as flyteadmin builds it (setup, node transitions, task
attempts, dynamic and child workflows, teardown), limited by depth."""

from __future__ import annotations

from typing import Any

import grpc
from execution_support import DOMAIN, PROJECT, fails, launch, running_admin, wait
from flyteidl.admin import execution_pb2
from flyteidl.core import identifier_pb2

TASK = ["task", ["TASK_SETUP", "TASK_RUNTIME", "TASK_TEARDOWN"]]


def tree(span: Any) -> Any:
    """A span as [label, [children]] (operations as their name alone)."""
    kind = span.WhichOneof("id")
    if kind == "operation_id":
        return span.operation_id
    label = {"workflow_id": "execution", "node_id": span.node_id.node_id, "task_id": "task"}[kind]
    return [label, [tree(child) for child in span.spans]]


def task_node(node_id: str) -> Any:
    return [node_id, ["NODE_TRANSITION", "NODE_SETUP", TASK, "NODE_TEARDOWN"]]


def metrics(admin: Any, ident: Any, depth: int) -> Any:
    request = execution_pb2.WorkflowExecutionGetMetricsRequest(id=ident, depth=depth)
    return admin.GetExecutionMetrics(request).span


def test_execution_metrics_break_an_execution_down_into_spans(tmp_path, database_url):
    with running_admin(tmp_path, database_url) as (_, admin, _signals):
        pair = launch(admin, "pair", x=1)
        dyn = launch(admin, "dyn", n=2)
        parent = launch(admin, "parent", x=1)
        executions = {ident.name: wait(admin, ident) for ident in (pair, dyn, parent)}

        span = metrics(admin, pair, -1)
        assert span.workflow_id == pair
        closure = executions[pair.name].closure
        assert (span.start_time, span.end_time) == (closure.created_at, closure.updated_at)
        assert tree(span) == [
            "execution",
            ["WORKFLOW_SETUP", task_node("n0"), task_node("n1"), "WORKFLOW_TEARDOWN"],
        ]
        assert tree(metrics(admin, pair, 0)) == ["execution", []]
        assert tree(metrics(admin, pair, 1)) == [
            "execution",
            ["WORKFLOW_SETUP", ["n0", ["NODE_TRANSITION"]], ["n1", ["NODE_TRANSITION"]], "WORKFLOW_TEARDOWN"],
        ]

        dynamic = tree(metrics(admin, dyn, -1))[1][1]
        assert dynamic[0] == "n0"
        assert dynamic[1][:4] == ["NODE_TRANSITION", "NODE_SETUP", TASK, "NODE_RESET"]
        assert [child[0] for child in dynamic[1][4:-1]] == ["n0-0-dn0", "n0-0-dn1"]
        assert dynamic[1][-1] == "NODE_TEARDOWN"

        launched = tree(metrics(admin, parent, -1))[1][1]
        assert launched[1][:2] == ["NODE_TRANSITION", "NODE_SETUP"]
        assert launched[1][2] == ["execution", ["WORKFLOW_SETUP", task_node("n0"), "WORKFLOW_TEARDOWN"]]

        missing = identifier_pb2.WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name="nosuch")
        error = fails(admin.GetExecutionMetrics, execution_pb2.WorkflowExecutionGetMetricsRequest(id=missing))
        assert error.code() == grpc.StatusCode.NOT_FOUND
        assert error.details() == f"execution {PROJECT}/{DOMAIN}/nosuch does not exist"
