"""One execution of a 1,000-node workflow, every node SUCCEEDED with one attempt (and the start and end nodes),
for the console benchmark.

The workflow is registered as any other; the execution is created by CreateExecution (no engine workers run)
and its node and task executions are bulk-inserted with the columns the engine's events leave in them, as
``bench_api`` seeds executions.
"""

from __future__ import annotations

import datetime
from typing import Any

import sqlalchemy
from _bench_flows import thousand
from _bench_support import DOMAIN, PROJECT, VERSION, launch, register
from flyteidl.admin import common_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from flyteidl.service import admin_pb2_grpc

from roost import LaunchPlan
from roost_admin import blobs
from roost_admin.app import AdminApp
from roost_admin.db import models

NODES = 1000
Node = core_execution_pb2.NodeExecution
Task = core_execution_pb2.TaskExecution


def seed_big_execution(
    app: AdminApp, stub: admin_pb2_grpc.AdminServiceStub
) -> identifier_pb2.WorkflowExecutionIdentifier:
    """Register ``thousand``, start it and record its 1,000 nodes as done; its identifier."""
    plan = LaunchPlan.get_or_create(thousand, name="bench.thousand")
    register(stub, [plan])
    ident = launch(stub, plan.name)
    workflow = stub.GetWorkflow(
        common_pb2.ObjectGetRequest(
            id=identifier_pb2.Identifier(
                resource_type=identifier_pb2.WORKFLOW,
                project=PROJECT,
                domain=DOMAIN,
                name=thousand.name,
                version=VERSION,
            )
        )
    )
    template = workflow.closure.compiled_workflow.primary.template
    storage, prefix = app.storage, app.settings.storage_prefix
    data = blobs.execution_data_prefix(prefix, PROJECT, DOMAIN, ident.name)
    start = datetime.datetime.now(datetime.UTC)
    with app.db.begin() as session:
        execution = session.scalars(
            sqlalchemy.select(models.Execution).where(models.Execution.name == ident.name)
        ).one()
        nodes: list[dict[str, Any]] = []
        for index, node in enumerate(template.nodes):
            began = start + datetime.timedelta(seconds=index)
            task = node.task_node.reference_id
            nodes.append(
                {
                    "execution_id": execution.id,
                    "node_id": node.id,
                    "spec_node_id": node.id,
                    "node_name": task.name,
                    "phase": Node.SUCCEEDED,
                    "input_uri": storage.join(data, node.id, "inputs.pb"),
                    "output_uri": storage.join(data, node.id, "0", "outputs.pb"),
                    "target": {"resource_type": "TASK", "name": task.name, "version": task.version}
                    if node.HasField("task_node")
                    else {},
                    "event_version": 1,
                    "created_at": began,
                    "started_at": began,
                    "updated_at": began + datetime.timedelta(seconds=0.9),
                    "duration": 0.9,
                }
            )
        session.execute(sqlalchemy.insert(models.NodeExecution), nodes)
        ids = dict(
            session.execute(
                sqlalchemy.select(models.NodeExecution.node_id, models.NodeExecution.id).where(
                    models.NodeExecution.execution_id == execution.id
                )
            ).all()
        )
        session.execute(
            sqlalchemy.insert(models.TaskExecution),
            [
                {
                    "node_execution_id": ids[row["node_id"]],
                    "task_project": PROJECT,
                    "task_domain": DOMAIN,
                    "task_name": row["node_name"],
                    "task_version": VERSION,
                    "retry_attempt": 0,
                    "phase": Task.SUCCEEDED,
                    "phase_version": 0,
                    "task_type": "python-task",
                    "logs": [{"name": "stdout", "uri": f"file:///tmp/{row['node_id']}.log"}],
                    "input_uri": row["input_uri"],
                    "output_uri": row["output_uri"],
                    "event_version": 1,
                    "created_at": row["created_at"],
                    "started_at": row["started_at"],
                    "updated_at": row["updated_at"],
                    "duration": row["duration"],
                }
                for row in nodes
            ],
        )
        execution.phase = core_execution_pb2.WorkflowExecution.SUCCEEDED
        execution.started_at = start
        execution.duration = float(NODES)
        execution.wake_at = None
    for row in nodes[:1]:  # the node the page opens in its panel: its inputs and outputs are read
        value = literals_pb2.LiteralMap()
        value.literals["x"].scalar.primitive.integer = 1
        storage.write_proto(row["input_uri"], value)
        storage.write_proto(row["output_uri"], value)
    return ident
