"""Launch-plan nodes in the admin: each child is a real execution, created like CreateExecution creates one.

The child's name comes from the engine (deterministic per parent, node and attempt), so launching twice (after
a restart) finds the child created the first time. Its status is read from its row; when it ends, the event
sink wakes the parent (through the node execution that launched it), in this process or another.

As flytepropeller's launch-plan executor does, the child's request carries the parent's labels, annotations,
raw output location, max parallelism, interruptible flag, overwrite-cache flag, environment variables and
security context; where the parent set none, the child's launch plan decides (the request's values win over
the launch plan's, as for every execution).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from flyteidl.admin import execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from sqlalchemy.exc import IntegrityError

from roost_admin.server import execution_views, launching
from roost_admin.server.execution_rows import TERMINAL_WORKFLOW, execution_key, find_execution
from roost_core.engine import ChildRequest, ChildStatus, WorkflowPhase
from roost_core.errors import ErrorKind, ExecutionError

if TYPE_CHECKING:
    from roost_admin.app import AdminApp

log = logging.getLogger(__name__)


def _inherit(child: execution_pb2.ExecutionSpec, parent: execution_pb2.ExecutionSpec) -> None:
    """What flytepropeller's launch-plan executor copies from the parent execution into the child's request."""
    child.labels.CopyFrom(parent.labels)
    child.annotations.CopyFrom(parent.annotations)
    child.raw_output_data_config.CopyFrom(parent.raw_output_data_config)
    child.max_parallelism = parent.max_parallelism
    if parent.HasField("interruptible"):
        child.interruptible.CopyFrom(parent.interruptible)
    child.overwrite_cache = parent.overwrite_cache
    child.envs.CopyFrom(parent.envs)
    if parent.HasField("security_context"):
        child.security_context.CopyFrom(parent.security_context)


def _split(key: str) -> tuple[str, str, str]:
    project, domain, name = key.split("/", 2)
    return project, domain, name


class AdminChildLauncher:
    """The engine's :class:`~roost_core.engine.ChildLauncher`, creating child executions in the database."""

    def __init__(self, app: AdminApp, poke: Callable[[], None]) -> None:
        self._app = app
        self._poke = poke

    def launch(self, request: ChildRequest) -> str:
        """Create the child execution (once per name) and queue it; returns ``project/domain/name``."""
        project, domain, _ = _split(request.parent)
        key = f"{project}/{domain}/{request.name}"
        try:
            with self._app.db.begin() as session:
                if find_execution(session, project, domain, request.name) is not None:
                    return key
                parent = find_execution(session, *_split(request.parent))
                parent_spec = (
                    execution_views.execution_message(self._app.storage, session, parent).spec
                    if parent is not None
                    else execution_pb2.ExecutionSpec()
                )
                spec = execution_pb2.ExecutionSpec(
                    launch_plan=identifier_pb2.Identifier(
                        resource_type=identifier_pb2.LAUNCH_PLAN,
                        project=request.launch_plan.project,
                        domain=request.launch_plan.domain,
                        name=request.launch_plan.name,
                        version=request.launch_plan.version,
                    ),
                    metadata=execution_pb2.ExecutionMetadata(
                        mode=execution_pb2.ExecutionMetadata.CHILD_WORKFLOW,
                        principal=parent.principal if parent is not None else "",
                        nesting=parent_spec.metadata.nesting + 1 if parent is not None else 1,
                    ),
                )
                _inherit(spec, parent_spec)
                launching.create_execution(
                    self._app,
                    session,
                    project=project,
                    domain=domain,
                    name=request.name,
                    spec=spec,
                    inputs=request.inputs,
                    parent_execution=request.parent,
                )
        except IntegrityError:
            log.debug("child execution %s was created concurrently", key)
        self._poke()
        return key

    def status(self, child: str) -> ChildStatus:
        """The child's phase, with its outputs or error once it ended."""
        with self._app.db.session() as session:
            row = find_execution(session, *_split(child))
        if row is None:
            return ChildStatus(
                WorkflowPhase.FAILED,
                error=ExecutionError(
                    "ChildNotFound", f"child execution {child} does not exist", ErrorKind.SYSTEM
                ),
            )
        phase = WorkflowPhase(row.phase)
        if phase is WorkflowPhase.SUCCEEDED:
            outputs, _ = execution_views.literal_data(self._app.storage, row.outputs_uri)
            return ChildStatus(phase, outputs=outputs or literals_pb2.LiteralMap())
        if phase not in TERMINAL_WORKFLOW:
            return ChildStatus(phase)
        if row.error_code or row.error_message:
            kind = (
                ErrorKind.USER
                if row.error_kind == core_execution_pb2.ExecutionError.USER
                else ErrorKind.SYSTEM
            )
            return ChildStatus(phase, error=ExecutionError(row.error_code, row.error_message, kind))
        if phase is WorkflowPhase.ABORTED:
            return ChildStatus(
                phase,
                error=ExecutionError(
                    "ChildAborted", f"child execution {child} was aborted: {row.abort_cause}", ErrorKind.USER
                ),
            )
        return ChildStatus(phase)

    def abort(self, child: str, cause: str) -> None:
        """Terminate the child, if it is still running."""
        with self._app.db.begin() as session:
            row = find_execution(session, *_split(child))
            if row is None or row.phase in TERMINAL_WORKFLOW:
                return
            launching.terminate(row, cause, principal="")
            log.info("aborting child execution %s: %s", execution_key(row), cause)
        self._poke()
