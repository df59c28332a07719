"""Execution RPCs of the AdminService: executions, node and task executions, and events.

Each RPC runs in one transaction (``app.db.begin()``). Creating, terminating and relaunching executions goes
through :mod:`roost_admin.server.launching`; events through :class:`roost_admin.server.events.EventLedger`
(the same rules the engine workers' event sink applies); messages are built by
:mod:`roost_admin.server.execution_views`. After a change that gives the engine work (a new execution, a
termination, an event waking a parent), the workers of this process are poked so they look at once; workers
in other processes find it at their next poll.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import grpc
from flyteidl.admin import (
    common_pb2,
    event_pb2,
    execution_pb2,
    node_execution_pb2,
    task_execution_pb2,
)
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from roost_admin.db import models
from roost_admin.db.base import utcnow
from roost_admin.server import execution_views as views
from roost_admin.server import launching, validation
from roost_admin.server.errors import InvalidArgument, NotFound, rpc
from roost_admin.server.events import EventLedger, check_api_event
from roost_admin.server.execution_rows import (
    execution_identifier,
    execution_key,
    get_execution,
    get_node,
    get_task,
)
from roost_admin.server.listing import (
    Field,
    Listing,
    next_token,
    parse_filters,
    parse_int,
    parse_number,
    parse_time,
)

if TYPE_CHECKING:
    from roost_admin.app import AdminApp


def _enum(values: Any) -> Any:
    """A filter value parser for a flyteidl enum: a name (``SUCCEEDED``) or its number."""

    def parse(text: str) -> int:
        text = text.strip()
        if text.isascii() and text.isdigit() and int(text) in values.values():
            return int(text)
        try:
            return int(values.Value(text.upper()))
        except ValueError:
            raise ValueError(f"{text!r} is not one of {', '.join(values.keys())}") from None

    return parse


def _fields(entity: str, fields: dict[str, Field]) -> dict[str, Field]:
    """Each field under its own name and with flyteadmin's entity prefix (``execution.phase``)."""
    return {**fields, **{f"{entity}.{name}": field for name, field in fields.items()}}


_TIME = parse_time
_E = models.Execution
EXECUTIONS = Listing(
    "executions",
    {
        **_fields(
            "execution",
            {
                "project": Field(_E.project),
                "domain": Field(_E.domain),
                "name": Field(_E.name),
                "phase": Field(_E.phase, _enum(core_execution_pb2.WorkflowExecution.Phase)),
                "state": Field(_E.state, _enum(execution_pb2.ExecutionState)),
                "mode": Field(_E.mode, _enum(execution_pb2.ExecutionMetadata.ExecutionMode)),
                "user": Field(_E.principal),
                "principal": Field(_E.principal),
                "error_code": Field(_E.error_code),
                "created_at": Field(_E.created_at, _TIME),
                "execution_created_at": Field(_E.created_at, _TIME),
                "updated_at": Field(_E.updated_at, _TIME),
                "execution_updated_at": Field(_E.updated_at, _TIME),
                "started_at": Field(_E.started_at, _TIME),
                "duration": Field(_E.duration, parse_number),
            },
        ),
        "launch_plan.name": Field(models.LaunchPlan.name),
        "launch_plan.version": Field(models.LaunchPlan.version),
        "workflow.name": Field(models.Workflow.name),
        "workflow.version": Field(models.Workflow.version),
        "task.name": Field(models.Task.name),
        "task.version": Field(models.Task.version),
    },
    [_E.created_at.desc(), _E.id.desc()],
)
_N = models.NodeExecution
NODE_EXECUTIONS = Listing(
    "node executions",
    _fields(
        "node_execution",
        {
            "node_id": Field(_N.node_id),
            "spec_node_id": Field(_N.spec_node_id),
            "retry_group": Field(_N.retry_group),
            "phase": Field(_N.phase, _enum(core_execution_pb2.NodeExecution.Phase)),
            "error_code": Field(_N.error_code),
            "created_at": Field(_N.created_at, _TIME),
            "node_execution_created_at": Field(_N.created_at, _TIME),
            "updated_at": Field(_N.updated_at, _TIME),
            "node_execution_updated_at": Field(_N.updated_at, _TIME),
            "started_at": Field(_N.started_at, _TIME),
            "duration": Field(_N.duration, parse_number),
        },
    ),
    [_N.id.asc()],
)
_T = models.TaskExecution
TASK_EXECUTIONS = Listing(
    "task executions",
    _fields(
        "task_execution",
        {
            "phase": Field(_T.phase, _enum(core_execution_pb2.TaskExecution.Phase)),
            "retry_attempt": Field(_T.retry_attempt, parse_int),
            "task_type": Field(_T.task_type),
            "name": Field(_T.task_name),
            "created_at": Field(_T.created_at, _TIME),
            "updated_at": Field(_T.updated_at, _TIME),
            "started_at": Field(_T.started_at, _TIME),
            "duration": Field(_T.duration, parse_number),
        },
    ),
    [_T.retry_attempt.asc(), _T.id.asc()],
)


class ExecutionRPCs:
    """The execution half of the AdminService (mixed into ``AdminService``, which sets ``app``)."""

    app: AdminApp

    # helpers

    def _poke(self) -> None:
        """Have this process's engine workers look for work now."""
        workers = self.app.workers
        if workers is not None:
            workers.poke()

    def _execution_id(
        self, ident: identifier_pb2.WorkflowExecutionIdentifier, what: str = "id"
    ) -> identifier_pb2.WorkflowExecutionIdentifier:
        validation.project_id(ident.project, f"{what}.project")
        validation.domain(ident.domain, self.app.settings.domains, f"{what}.domain")
        validation.execution_name(ident.name, f"{what}.name")
        return ident

    def _node_id(
        self, ident: identifier_pb2.NodeExecutionIdentifier, what: str = "id"
    ) -> identifier_pb2.NodeExecutionIdentifier:
        self._execution_id(ident.execution_id, f"{what}.execution_id")
        if not ident.node_id:
            raise InvalidArgument(f"{what}.node_id is required")
        return ident

    def _task_id(
        self, ident: identifier_pb2.TaskExecutionIdentifier, what: str = "id"
    ) -> identifier_pb2.TaskExecutionIdentifier:
        self._node_id(ident.node_execution_id, f"{what}.node_execution_id")
        if not ident.task_id.name:
            raise InvalidArgument(f"{what}.task_id is required")
        return ident

    def _executions_page(
        self, session: Session, listing: Listing, query: Select[Any], request: Any
    ) -> tuple[list[Any], str]:
        sort = request.sort_by if request.HasField("sort_by") else None
        paged, offset, limit = listing.page(
            query, filters=request.filters, sort=sort, limit=request.limit, token=request.token
        )
        return next_token(session.scalars(paged).all(), offset, limit)

    # executions

    @rpc
    def CreateExecution(
        self, request: execution_pb2.ExecutionCreateRequest, context: grpc.ServicerContext
    ) -> execution_pb2.ExecutionCreateResponse:
        """Create and queue an execution of a launch plan (or of a single task)."""
        if not request.HasField("spec"):
            raise InvalidArgument("spec is required")
        with self.app.db.begin() as session:
            row = launching.create_execution(
                self.app,
                session,
                project=request.project,
                domain=request.domain,
                name=request.name,
                spec=request.spec,
                inputs=request.inputs,
            )
            ident = execution_identifier(row)
        self._poke()
        return execution_pb2.ExecutionCreateResponse(id=ident)

    @rpc
    def RelaunchExecution(
        self, request: execution_pb2.ExecutionRelaunchRequest, context: grpc.ServicerContext
    ) -> execution_pb2.ExecutionCreateResponse:
        """Run an execution again with the same spec and inputs, under a new name."""
        original_id = self._execution_id(request.id)
        with self.app.db.begin() as session:
            original = get_execution(session, original_id)
            spec = views.execution_message(self.app.storage, session, original).spec
            inputs = literals_pb2.LiteralMap()
            given, _ = views.literal_data(self.app.storage, original.user_inputs_uri)
            if given is not None:
                inputs.CopyFrom(given)
            row = launching.create_execution(
                self.app,
                session,
                project=original.project,
                domain=original.domain,
                name=request.name,
                spec=launching.relaunch_spec(spec, original, request.overwrite_cache),
                inputs=inputs,
            )
            ident = execution_identifier(row)
        self._poke()
        return execution_pb2.ExecutionCreateResponse(id=ident)

    @rpc
    def GetExecution(
        self, request: execution_pb2.WorkflowExecutionGetRequest, context: grpc.ServicerContext
    ) -> execution_pb2.Execution:
        """An execution: its spec as created and its closure (phase, times, outputs or error)."""
        ident = self._execution_id(request.id)
        with self.app.db.session() as session:
            return views.execution_message(self.app.storage, session, get_execution(session, ident))

    @rpc
    def ListExecutions(
        self, request: common_pb2.ResourceListRequest, context: grpc.ServicerContext
    ) -> execution_pb2.ExecutionList:
        """Executions of a project and domain (archived ones only when a state filter asks for them)."""
        settings = self.app.settings
        validation.project_id(request.id.project, "id.project")
        validation.domain(request.id.domain, settings.domains, "id.domain")
        query = (
            select(_E)
            .outerjoin(models.LaunchPlan, models.LaunchPlan.id == _E.launch_plan_id)
            .outerjoin(models.Workflow, models.Workflow.id == _E.workflow_id)
            .outerjoin(models.Task, models.Task.id == _E.task_id)
            .where(_E.project == request.id.project, _E.domain == request.id.domain)
        )
        if request.id.name:
            query = query.where(_E.name == request.id.name)
        if not any(f.field.rsplit(".", 1)[-1] == "state" for f in parse_filters(request.filters)):
            query = query.where(_E.state == execution_pb2.EXECUTION_ACTIVE)
        with self.app.db.session() as session:
            rows, token = self._executions_page(session, EXECUTIONS, query, request)
            executions = views.execution_messages(self.app.storage, session, rows, trim_errors=True)
        return execution_pb2.ExecutionList(executions=executions, token=token)

    @rpc
    def GetExecutionData(
        self, request: execution_pb2.WorkflowExecutionGetDataRequest, context: grpc.ServicerContext
    ) -> execution_pb2.WorkflowExecutionGetDataResponse:
        """The execution's inputs and outputs, inline and as URLs."""
        ident = self._execution_id(request.id)
        with self.app.db.session() as session:
            row = get_execution(session, ident)
        return views.execution_data(self.app.storage, row)

    @rpc
    def TerminateExecution(
        self, request: execution_pb2.ExecutionTerminateRequest, context: grpc.ServicerContext
    ) -> execution_pb2.ExecutionTerminateResponse:
        """Abort a running execution: its running tasks are stopped and it ends ABORTED."""
        ident = self._execution_id(request.id)
        with self.app.db.begin() as session:
            launching.terminate(get_execution(session, ident), request.cause, principal="")
        self._poke()
        return execution_pb2.ExecutionTerminateResponse()

    @rpc
    def UpdateExecution(
        self, request: execution_pb2.ExecutionUpdateRequest, context: grpc.ServicerContext
    ) -> execution_pb2.ExecutionUpdateResponse:
        """Archive an execution (hidden from lists unless asked for) or make it active again."""
        ident = self._execution_id(request.id)
        with self.app.db.begin() as session:
            row = get_execution(session, ident)
            if row.state != request.state:
                row.state = request.state
                row.state_changed_at = utcnow()
        return execution_pb2.ExecutionUpdateResponse()

    # node executions

    @rpc
    def GetNodeExecution(
        self, request: node_execution_pb2.NodeExecutionGetRequest, context: grpc.ServicerContext
    ) -> node_execution_pb2.NodeExecution:
        """A node execution."""
        ident = self._node_id(request.id)
        with self.app.db.session() as session:
            execution, node = get_node(session, ident)
            return views.node_messages(execution, [node])[0]

    @rpc
    def ListNodeExecutions(
        self, request: node_execution_pb2.NodeExecutionListRequest, context: grpc.ServicerContext
    ) -> node_execution_pb2.NodeExecutionList:
        """The top-level node executions of an execution, or the children of ``unique_parent_id``."""
        ident = self._execution_id(request.workflow_execution_id, "workflow_execution_id")
        with self.app.db.session() as session:
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
            rows, token = self._executions_page(session, NODE_EXECUTIONS, query, request)
            return node_execution_pb2.NodeExecutionList(
                node_executions=views.node_messages(execution, rows, trim_errors=True), token=token
            )

    @rpc
    def ListNodeExecutionsForTask(
        self, request: node_execution_pb2.NodeExecutionForTaskListRequest, context: grpc.ServicerContext
    ) -> node_execution_pb2.NodeExecutionList:
        """The node executions a task execution spawned: the nodes a dynamic task's attempt generated."""
        ident = self._task_id(request.task_execution_id, "task_execution_id")
        with self.app.db.session() as session:
            execution, node, task = get_task(session, ident)
            query = select(_N).where(
                _N.execution_id == execution.id,
                _N.parent_id == node.id,
                _N.retry_group == str(task.retry_attempt),
            )
            rows, token = self._executions_page(session, NODE_EXECUTIONS, query, request)
            return node_execution_pb2.NodeExecutionList(
                node_executions=views.node_messages(execution, rows, trim_errors=True), token=token
            )

    @rpc
    def GetNodeExecutionData(
        self, request: node_execution_pb2.NodeExecutionGetDataRequest, context: grpc.ServicerContext
    ) -> node_execution_pb2.NodeExecutionGetDataResponse:
        """A node's inputs and outputs (and a dynamic node's generated workflow)."""
        ident = self._node_id(request.id)
        with self.app.db.session() as session:
            _, node = get_node(session, ident)
        return views.node_data(self.app.storage, node)

    @rpc
    def GetDynamicNodeWorkflow(
        self, request: node_execution_pb2.GetDynamicNodeWorkflowRequest, context: grpc.ServicerContext
    ) -> node_execution_pb2.DynamicNodeWorkflowResponse:
        """The compiled workflow a dynamic node generated."""
        ident = self._node_id(request.id)
        with self.app.db.session() as session:
            execution, node = get_node(session, ident)
        if not node.dynamic_workflow_uri:
            raise NotFound(
                f"node execution '{node.node_id}' of execution {execution_key(execution)} did not generate a "
                "dynamic workflow"
            )
        return node_execution_pb2.DynamicNodeWorkflowResponse(
            compiled_workflow=views.dynamic_workflow(self.app.storage, node)
        )

    # task executions

    @rpc
    def GetTaskExecution(
        self, request: task_execution_pb2.TaskExecutionGetRequest, context: grpc.ServicerContext
    ) -> task_execution_pb2.TaskExecution:
        """One attempt of a task on a node."""
        ident = self._task_id(request.id)
        with self.app.db.session() as session:
            execution, node, task = get_task(session, ident)
            return views.task_messages(execution, node, [task])[0]

    @rpc
    def ListTaskExecutions(
        self, request: task_execution_pb2.TaskExecutionListRequest, context: grpc.ServicerContext
    ) -> task_execution_pb2.TaskExecutionList:
        """The attempts of a node's task."""
        ident = self._node_id(request.node_execution_id, "node_execution_id")
        with self.app.db.session() as session:
            execution, node = get_node(session, ident)
            query = select(_T).where(_T.node_execution_id == node.id)
            rows, token = self._executions_page(session, TASK_EXECUTIONS, query, request)
            return task_execution_pb2.TaskExecutionList(
                task_executions=views.task_messages(execution, node, rows), token=token
            )

    @rpc
    def GetTaskExecutionData(
        self, request: task_execution_pb2.TaskExecutionGetDataRequest, context: grpc.ServicerContext
    ) -> task_execution_pb2.TaskExecutionGetDataResponse:
        """An attempt's inputs and outputs."""
        ident = self._task_id(request.id)
        with self.app.db.session() as session:
            _, _, task = get_task(session, ident)
        return views.task_data(self.app.storage, task)

    # events

    def _record(self, record: Any) -> None:
        settings = self.app.settings
        with self.app.db.begin() as session:
            ledger = EventLedger(session, self.app.storage, settings.storage_prefix)
            record(ledger)
        if ledger.woke:
            self._poke()

    @rpc
    def CreateWorkflowEvent(
        self, request: event_pb2.WorkflowExecutionEventRequest, context: grpc.ServicerContext
    ) -> event_pb2.WorkflowExecutionEventResponse:
        """Record a workflow execution's phase change (flyteadmin's rules)."""
        if not request.HasField("event"):
            raise InvalidArgument("event is required")
        check_api_event(request.event, self.app.settings.storage_prefix)
        self._record(lambda ledger: ledger.workflow(request.event))
        return event_pb2.WorkflowExecutionEventResponse()

    @rpc
    def CreateNodeEvent(
        self, request: event_pb2.NodeExecutionEventRequest, context: grpc.ServicerContext
    ) -> event_pb2.NodeExecutionEventResponse:
        """Record a node execution's phase change; its first event creates it."""
        if not request.HasField("event"):
            raise InvalidArgument("event is required")
        check_api_event(request.event, self.app.settings.storage_prefix)
        self._record(lambda ledger: ledger.node(request.event))
        return event_pb2.NodeExecutionEventResponse()

    @rpc
    def CreateTaskEvent(
        self, request: event_pb2.TaskExecutionEventRequest, context: grpc.ServicerContext
    ) -> event_pb2.TaskExecutionEventResponse:
        """Record a task execution's phase change; its first event creates it."""
        if not request.HasField("event"):
            raise InvalidArgument("event is required")
        check_api_event(request.event, self.app.settings.storage_prefix)
        self._record(lambda ledger: ledger.task(request.event))
        return event_pb2.TaskExecutionEventResponse()
