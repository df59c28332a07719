"""Node and task executions: what an execution ran, read and listed (GetNodeExecution, ListNodeExecutions,
ListNodeExecutionsForTask, GetNodeExecutionData, GetDynamicNodeWorkflow, GetTaskExecution, ListTaskExecutions,
GetTaskExecutionData). Their rows are written by events (:mod:`roost_admin.services.events`)."""

from __future__ import annotations

from flyteidl.admin import node_execution_pb2, task_execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2
from sqlalchemy import select

from roost_admin.db import models
from roost_admin.errors import NotFound
from roost_admin.services import validation, views
from roost_admin.services.base import Service
from roost_admin.services.listing import (
    Field,
    Listing,
    enum_parser,
    parse_int,
    parse_number,
    parse_time,
    prefixed,
    rows_page,
)
from roost_admin.services.rows import execution_key, get_execution, get_node, get_task

_N = models.NodeExecution
NODE_EXECUTIONS = Listing(
    "node executions",
    prefixed(
        "node_execution",
        {
            "node_id": Field(_N.node_id),
            "spec_node_id": Field(_N.spec_node_id),
            "retry_group": Field(_N.retry_group),
            "phase": Field(_N.phase, enum_parser(core_execution_pb2.NodeExecution.Phase)),
            "error_code": Field(_N.error_code),
            "created_at": Field(_N.created_at, parse_time),
            "node_execution_created_at": Field(_N.created_at, parse_time),
            "updated_at": Field(_N.updated_at, parse_time),
            "node_execution_updated_at": Field(_N.updated_at, parse_time),
            "started_at": Field(_N.started_at, parse_time),
            "duration": Field(_N.duration, parse_number),
        },
    ),
    [_N.id.asc()],
)
_T = models.TaskExecution
TASK_EXECUTIONS = Listing(
    "task executions",
    prefixed(
        "task_execution",
        {
            "phase": Field(_T.phase, enum_parser(core_execution_pb2.TaskExecution.Phase)),
            "retry_attempt": Field(_T.retry_attempt, parse_int),
            "task_type": Field(_T.task_type),
            "name": Field(_T.task_name),
            "created_at": Field(_T.created_at, parse_time),
            "updated_at": Field(_T.updated_at, parse_time),
            "started_at": Field(_T.started_at, parse_time),
            "duration": Field(_T.duration, parse_number),
        },
    ),
    [_T.retry_attempt.asc(), _T.id.asc()],
)


class NodeExecutions(Service):
    """Node executions and the task executions (attempts) below them."""

    def get_node_execution(
        self, request: node_execution_pb2.NodeExecutionGetRequest
    ) -> node_execution_pb2.NodeExecution:
        """A node execution."""
        ident = validation.node_execution_id(self.ctx.settings.domains, request.id)
        with self.ctx.db.session() as session:
            execution, node = get_node(session, ident)
            return views.node_messages(execution, [node])[0]

    def list_node_executions(
        self, request: node_execution_pb2.NodeExecutionListRequest
    ) -> node_execution_pb2.NodeExecutionList:
        """The top-level node executions of an execution, or the children of ``unique_parent_id``."""
        ident = validation.execution_id(
            self.ctx.settings.domains, request.workflow_execution_id, "workflow_execution_id"
        )
        with self.ctx.db.session() as session:
            execution = get_execution(session, ident)
            query = select(_N).where(_N.execution_id == execution.id)
            if request.unique_parent_id:
                _, parent = get_node(
                    session,
                    identifier_pb2.NodeExecutionIdentifier(
                        node_id=request.unique_parent_id, execution_id=ident
                    ),
                )
                query = query.where(_N.parent_id == parent.id)
            else:
                query = query.where(_N.parent_id.is_(None))
            rows, token = rows_page(session, NODE_EXECUTIONS, query, request)
            return node_execution_pb2.NodeExecutionList(
                node_executions=views.node_messages(execution, rows, trim_errors=True), token=token
            )

    def list_node_executions_for_task(
        self, request: node_execution_pb2.NodeExecutionForTaskListRequest
    ) -> node_execution_pb2.NodeExecutionList:
        """The node executions a task execution spawned: the nodes a dynamic task's attempt generated."""
        ident = validation.task_execution_id(
            self.ctx.settings.domains, request.task_execution_id, "task_execution_id"
        )
        with self.ctx.db.session() as session:
            execution, node, task = get_task(session, ident)
            query = select(_N).where(
                _N.execution_id == execution.id,
                _N.parent_id == node.id,
                _N.retry_group == str(task.retry_attempt),
            )
            rows, token = rows_page(session, NODE_EXECUTIONS, query, request)
            return node_execution_pb2.NodeExecutionList(
                node_executions=views.node_messages(execution, rows, trim_errors=True), token=token
            )

    def get_node_execution_data(
        self, request: node_execution_pb2.NodeExecutionGetDataRequest
    ) -> node_execution_pb2.NodeExecutionGetDataResponse:
        """A node's inputs and outputs (and a dynamic node's generated workflow)."""
        ident = validation.node_execution_id(self.ctx.settings.domains, request.id)
        with self.ctx.db.session() as session:
            _, node = get_node(session, ident)
        return views.node_data(self.ctx, node)

    def get_dynamic_node_workflow(
        self, request: node_execution_pb2.GetDynamicNodeWorkflowRequest
    ) -> node_execution_pb2.DynamicNodeWorkflowResponse:
        """The compiled workflow a dynamic node generated."""
        ident = validation.node_execution_id(self.ctx.settings.domains, request.id)
        with self.ctx.db.session() as session:
            execution, node = get_node(session, ident)
        if not node.dynamic_workflow_uri:
            raise NotFound(
                f"node execution '{node.node_id}' of execution {execution_key(execution)} did not generate a "
                "dynamic workflow"
            )
        return node_execution_pb2.DynamicNodeWorkflowResponse(
            compiled_workflow=views.dynamic_workflow(self.ctx, node)
        )

    # task executions

    def get_task_execution(
        self, request: task_execution_pb2.TaskExecutionGetRequest
    ) -> task_execution_pb2.TaskExecution:
        """One attempt of a task on a node."""
        ident = validation.task_execution_id(self.ctx.settings.domains, request.id)
        with self.ctx.db.session() as session:
            execution, node, task = get_task(session, ident)
            return views.task_messages(execution, node, [task])[0]

    def list_task_executions(
        self, request: task_execution_pb2.TaskExecutionListRequest
    ) -> task_execution_pb2.TaskExecutionList:
        """The attempts of a node's task."""
        ident = validation.node_execution_id(
            self.ctx.settings.domains, request.node_execution_id, "node_execution_id"
        )
        with self.ctx.db.session() as session:
            execution, node = get_node(session, ident)
            query = select(_T).where(_T.node_execution_id == node.id)
            rows, token = rows_page(session, TASK_EXECUTIONS, query, request)
            return task_execution_pb2.TaskExecutionList(
                task_executions=views.task_messages(execution, node, rows), token=token
            )

    def get_task_execution_data(
        self, request: task_execution_pb2.TaskExecutionGetDataRequest
    ) -> task_execution_pb2.TaskExecutionGetDataResponse:
        """An attempt's inputs and outputs."""
        ident = validation.task_execution_id(self.ctx.settings.domains, request.id)
        with self.ctx.db.session() as session:
            _, _, task = get_task(session, ident)
        return views.task_data(self.ctx, task)
