"""Execution, node execution and task execution rows as the admin messages clients read, and their data
(inputs and outputs inline plus signed URLs, as flyteadmin answers the Get*Data RPCs)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from flyteidl.admin import common_pb2, execution_pb2, node_execution_pb2, task_execution_pb2
from flyteidl.core import compiler_pb2, identifier_pb2, literals_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.event import event_pb2
from google.protobuf import duration_pb2, json_format, struct_pb2
from google.protobuf.message import DecodeError
from sqlalchemy import select
from sqlalchemy.orm import Session

from roost_admin.db import models
from roost_admin.errors import AdminError, Unavailable
from roost_admin.services import entities
from roost_admin.services.rows import SINGLE_TASK_PREFIX, execution_identifier
from roost_core.storage import BlobNotFoundError, StorageError

if TYPE_CHECKING:
    from roost_admin.services.context import ServiceContext

log = logging.getLogger(__name__)

MAX_INLINE_BYTES = 2 * 1024 * 1024
"""Inputs and outputs up to this size are sent inline in Get*Data answers (flyteadmin's default); larger ones
only as a URL."""
LIST_ERROR_CHARACTERS = 100
"""Lists trim error messages to this length, as flyteadmin does (Get answers carry them whole)."""


def _read(ctx: ServiceContext, uri: str) -> bytes:
    try:
        return ctx.storage.read(uri)
    except BlobNotFoundError:
        raise AdminError(f"the blob store lost {uri}, which an execution points to") from None
    except StorageError as exc:
        raise Unavailable(f"cannot read {uri} from the blob store: {exc}") from exc


def _duration(seconds: float) -> duration_pb2.Duration:
    value = duration_pb2.Duration()
    value.FromNanoseconds(int(seconds * 1e9))
    return value


def _error(row: Any, trim: bool) -> core_execution_pb2.ExecutionError:
    message = row.error_message
    if trim and len(message) > LIST_ERROR_CHARACTERS:
        message = message[:LIST_ERROR_CHARACTERS]
    return core_execution_pb2.ExecutionError(code=row.error_code, message=message, kind=row.error_kind)


def _has_error(row: Any) -> bool:
    return bool(row.error_code or row.error_message)


# executions


def _workflow_ids(session: Session, rows: Sequence[models.Execution]) -> dict[int, identifier_pb2.Identifier]:
    """The workflow identifier of each execution (by row id), fetched in two queries for a whole page."""
    found: dict[int, identifier_pb2.Identifier] = {}
    workflow_ids = {r.workflow_id for r in rows if r.workflow_id is not None}
    task_ids = {r.task_id for r in rows if r.task_id is not None}
    workflows = (
        {
            w.id: w
            for w in session.scalars(select(models.Workflow).where(models.Workflow.id.in_(workflow_ids)))
        }
        if workflow_ids
        else {}
    )
    tasks = (
        {t.id: t for t in session.scalars(select(models.Task).where(models.Task.id.in_(task_ids)))}
        if task_ids
        else {}
    )
    for row in rows:
        workflow = workflows.get(row.workflow_id) if row.workflow_id is not None else None
        task = tasks.get(row.task_id) if row.task_id is not None else None
        if workflow is not None:
            found[row.id] = entities.row_id(entities.WORKFLOW, workflow)
        elif task is not None:
            found[row.id] = identifier_pb2.Identifier(
                resource_type=identifier_pb2.WORKFLOW,
                project=task.project,
                domain=task.domain,
                name=SINGLE_TASK_PREFIX + task.name,
                version=task.version,
            )
    return found


def execution_messages(
    ctx: ServiceContext, session: Session, rows: Sequence[models.Execution], *, trim_errors: bool = False
) -> list[execution_pb2.Execution]:
    """The admin Executions of rows (lists trim error messages, as flyteadmin's do)."""
    workflows = _workflow_ids(session, rows)
    return [_execution_message(ctx, session, row, workflows.get(row.id), trim_errors) for row in rows]


def execution_message(
    ctx: ServiceContext, session: Session, row: models.Execution
) -> execution_pb2.Execution:
    """The admin Execution of a row: the spec as created, and a closure built from the row."""
    return execution_messages(ctx, session, [row])[0]


def _execution_message(
    ctx: ServiceContext,
    session: Session,
    row: models.Execution,
    workflow_id: identifier_pb2.Identifier | None,
    trim_errors: bool,
) -> execution_pb2.Execution:
    spec = entities.load_closure(ctx, row.spec_uri, execution_pb2.ExecutionSpec, owner="an execution")
    if row.parent_node_execution_id is not None and not spec.metadata.HasField("parent_node_execution"):
        parent = session.get(models.NodeExecution, row.parent_node_execution_id)
        parent_execution = session.get(models.Execution, parent.execution_id) if parent is not None else None
        if parent is not None and parent_execution is not None:
            spec.metadata.parent_node_execution.CopyFrom(
                identifier_pb2.NodeExecutionIdentifier(
                    node_id=parent.node_id, execution_id=execution_identifier(parent_execution)
                )
            )
    closure = execution_pb2.ExecutionClosure(
        phase=row.phase,
        created_at=entities.timestamp(row.created_at),
        updated_at=entities.timestamp(row.updated_at),
        state_change_details=execution_pb2.ExecutionStateChangeDetails(
            state=row.state,
            occurred_at=entities.timestamp(row.state_changed_at or row.created_at),
            principal=row.principal,
        ),
    )
    if workflow_id is not None:
        closure.workflow_id.CopyFrom(workflow_id)
    if row.started_at is not None:
        closure.started_at.CopyFrom(entities.timestamp(row.started_at))
        closure.duration.CopyFrom(_duration(row.duration))
    aborted = row.phase in (
        core_execution_pb2.WorkflowExecution.ABORTED,
        core_execution_pb2.WorkflowExecution.ABORTING,
    )
    if row.abort_cause and aborted:
        closure.abort_metadata.CopyFrom(
            execution_pb2.AbortMetadata(cause=row.abort_cause, principal=row.abort_principal)
        )
    elif _has_error(row):
        closure.error.CopyFrom(_error(row, trim_errors))
    elif row.outputs_uri:
        closure.outputs.CopyFrom(execution_pb2.LiteralMapBlob(uri=row.outputs_uri))
    return execution_pb2.Execution(id=execution_identifier(row), spec=spec, closure=closure)


# node executions


def node_messages(
    execution: models.Execution, rows: Iterable[models.NodeExecution], *, trim_errors: bool = False
) -> list[node_execution_pb2.NodeExecution]:
    """The admin NodeExecutions of rows of one execution."""
    ident = execution_identifier(execution)
    return [_node_message(ident, row, trim_errors) for row in rows]


def _node_message(
    ident: identifier_pb2.WorkflowExecutionIdentifier, row: models.NodeExecution, trim_errors: bool
) -> node_execution_pb2.NodeExecution:
    closure = node_execution_pb2.NodeExecutionClosure(
        phase=row.phase,
        created_at=entities.timestamp(row.created_at),
        updated_at=entities.timestamp(row.updated_at),
    )
    if row.started_at is not None:
        closure.started_at.CopyFrom(entities.timestamp(row.started_at))
        closure.duration.CopyFrom(_duration(row.duration))
    if _has_error(row):
        closure.error.CopyFrom(_error(row, trim_errors))
    elif row.output_uri:
        closure.output_uri = row.output_uri
    if row.child_execution:
        project, domain, name = row.child_execution.split("/", 2)
        closure.workflow_node_metadata.executionId.CopyFrom(
            identifier_pb2.WorkflowExecutionIdentifier(project=project, domain=domain, name=name)
        )
    elif row.target.get("resource_type") == "TASK" or row.cache_status:
        closure.task_node_metadata.cache_status = row.cache_status
    metadata = node_execution_pb2.NodeExecutionMetaData(
        retry_group=row.retry_group,
        is_parent_node=row.is_parent,
        spec_node_id=row.spec_node_id,
        is_dynamic=row.is_dynamic,
        is_array=row.is_array,
    )
    return node_execution_pb2.NodeExecution(
        id=identifier_pb2.NodeExecutionIdentifier(node_id=row.node_id, execution_id=ident),
        input_uri=row.input_uri,
        closure=closure,
        metadata=metadata,
    )


# task executions


def task_identifier(
    ident: identifier_pb2.WorkflowExecutionIdentifier, node: models.NodeExecution, row: models.TaskExecution
) -> identifier_pb2.TaskExecutionIdentifier:
    """The flyteidl identifier of a task execution row."""
    return identifier_pb2.TaskExecutionIdentifier(
        task_id=identifier_pb2.Identifier(
            resource_type=identifier_pb2.TASK,
            project=row.task_project,
            domain=row.task_domain,
            name=row.task_name,
            version=row.task_version,
        ),
        node_execution_id=identifier_pb2.NodeExecutionIdentifier(node_id=node.node_id, execution_id=ident),
        retry_attempt=row.retry_attempt,
    )


def task_messages(
    execution: models.Execution, node: models.NodeExecution, rows: Iterable[models.TaskExecution]
) -> list[task_execution_pb2.TaskExecution]:
    """The admin TaskExecutions of one node's attempts."""
    ident = execution_identifier(execution)
    return [_task_message(ident, node, row) for row in rows]


def _task_message(
    ident: identifier_pb2.WorkflowExecutionIdentifier, node: models.NodeExecution, row: models.TaskExecution
) -> task_execution_pb2.TaskExecution:
    closure = task_execution_pb2.TaskExecutionClosure(
        phase=row.phase,
        created_at=entities.timestamp(row.created_at),
        updated_at=entities.timestamp(row.updated_at),
        reason=row.reason,
        task_type=row.task_type,
        event_version=row.event_version,
        logs=[json_format.ParseDict(log, core_execution_pb2.TaskLog()) for log in row.logs],
    )
    if row.reason:
        closure.reasons.append(
            task_execution_pb2.Reason(occurred_at=entities.timestamp(row.updated_at), message=row.reason)
        )
    if row.custom_info:
        custom = struct_pb2.Struct()
        custom.update(row.custom_info)
        closure.custom_info.CopyFrom(custom)
    if row.metadata_json:
        closure.metadata.CopyFrom(
            json_format.ParseDict(
                row.metadata_json, event_pb2.TaskExecutionMetadata(), ignore_unknown_fields=True
            )
        )
    if row.started_at is not None:
        closure.started_at.CopyFrom(entities.timestamp(row.started_at))
        closure.duration.CopyFrom(_duration(row.duration))
    if _has_error(row):
        closure.error.CopyFrom(_error(row, False))
    elif row.output_uri:
        closure.output_uri = row.output_uri
    return task_execution_pb2.TaskExecution(
        id=task_identifier(ident, node, row),
        input_uri=row.input_uri,
        closure=closure,
        is_parent=node.is_dynamic,
    )


# data


def literal_data(ctx: ServiceContext, uri: str) -> tuple[literals_pb2.LiteralMap | None, common_pb2.UrlBlob]:
    """A LiteralMap blob inline (when at most MAX_INLINE_BYTES) and as a URL with its size; nothing for an
    empty URI or a blob that does not exist (yet)."""
    if not uri:
        return None, common_pb2.UrlBlob()
    try:
        data = ctx.storage.read(uri)
    except BlobNotFoundError:
        return None, common_pb2.UrlBlob()
    except StorageError as exc:
        raise Unavailable(f"cannot read {uri} from the blob store: {exc}") from exc
    try:
        url = ctx.storage.signed_url(uri)
    except StorageError:
        url = uri
    blob = common_pb2.UrlBlob(url=url, bytes=len(data))
    if len(data) > MAX_INLINE_BYTES:
        return None, blob
    literals = literals_pb2.LiteralMap()
    try:
        literals.ParseFromString(data)
    except DecodeError:
        # An event sent over the API may point at any blob of the store; the URL still leads to it.
        log.info("%s is not a LiteralMap; answering with its URL only", uri)
        return None, blob
    return literals, blob


def execution_data(
    ctx: ServiceContext, row: models.Execution
) -> execution_pb2.WorkflowExecutionGetDataResponse:
    """GetExecutionData: the execution's inputs (defaults merged in) and outputs."""
    inputs, inputs_blob = literal_data(ctx, row.inputs_uri)
    outputs, outputs_blob = literal_data(ctx, row.outputs_uri)
    response = execution_pb2.WorkflowExecutionGetDataResponse(inputs=inputs_blob, outputs=outputs_blob)
    if inputs is not None:
        response.full_inputs.CopyFrom(inputs)
    if outputs is not None:
        response.full_outputs.CopyFrom(outputs)
    return response


def node_data(
    ctx: ServiceContext, row: models.NodeExecution
) -> node_execution_pb2.NodeExecutionGetDataResponse:
    """GetNodeExecutionData: the node's inputs and outputs, and the workflow a dynamic node generated."""
    inputs, inputs_blob = literal_data(ctx, row.input_uri)
    outputs, outputs_blob = literal_data(ctx, row.output_uri)
    response = node_execution_pb2.NodeExecutionGetDataResponse(inputs=inputs_blob, outputs=outputs_blob)
    if inputs is not None:
        response.full_inputs.CopyFrom(inputs)
    if outputs is not None:
        response.full_outputs.CopyFrom(outputs)
    if row.dynamic_workflow_uri:
        closure = dynamic_workflow(ctx, row)
        response.dynamic_workflow.CopyFrom(
            node_execution_pb2.DynamicWorkflowNodeMetadata(
                id=closure.primary.template.id, compiled_workflow=closure
            )
        )
    return response


def dynamic_workflow(ctx: ServiceContext, row: models.NodeExecution) -> compiler_pb2.CompiledWorkflowClosure:
    """The compiled workflow a dynamic node generated."""
    closure = compiler_pb2.CompiledWorkflowClosure()
    closure.ParseFromString(_read(ctx, row.dynamic_workflow_uri))
    return closure


def task_data(
    ctx: ServiceContext, row: models.TaskExecution
) -> task_execution_pb2.TaskExecutionGetDataResponse:
    """GetTaskExecutionData: the attempt's inputs and outputs."""
    inputs, inputs_blob = literal_data(ctx, row.input_uri)
    outputs, outputs_blob = literal_data(ctx, row.output_uri)
    response = task_execution_pb2.TaskExecutionGetDataResponse(inputs=inputs_blob, outputs=outputs_blob)
    if inputs is not None:
        response.full_inputs.CopyFrom(inputs)
    if outputs is not None:
        response.full_outputs.CopyFrom(outputs)
    return response
