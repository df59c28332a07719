"""The phases of one execution and of all its nodes, read in one query each: what a live view (the HTTP API's
server-sent events, the console) compares between two reads to tell what changed."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from flyteidl.admin import execution_pb2
from sqlalchemy import func, select

from roost_admin.db import models
from roost_admin.errors import NotFound
from roost_admin.services import validation
from roost_admin.services.base import Service
from roost_admin.services.rows import find_execution, key_text


@dataclass(frozen=True, slots=True)
class NodePhase:
    """One node execution's phase (flyteidl's ``NodeExecution.Phase`` value) and when it last changed."""

    node_id: str
    phase: int
    updated_at: datetime.datetime
    parent_node_id: str = ""
    """The node id of the node it runs under (a sub-workflow, dynamic or array node), empty at the top."""


@dataclass(frozen=True, slots=True)
class ExecutionPhases:
    """An execution's phase (flyteidl's ``WorkflowExecution.Phase`` value) and every node's."""

    phase: int
    updated_at: datetime.datetime
    nodes: tuple[NodePhase, ...]


class Watching(Service):
    """Reads for live views."""

    def phases(self, project: str, domain: str, name: str) -> ExecutionPhases:
        """The phases of execution ``project/domain/name`` and its nodes; NotFound naming it when it does not
        exist."""
        validation.project_id(project, "project")
        with self.ctx.db.session() as session:
            row = find_execution(session, project, domain, name)
            if row is None:
                raise NotFound(f"execution {key_text(project, domain, name)} does not exist")
            parent = models.NodeExecution.__table__.alias("parent")
            nodes = session.execute(
                select(
                    models.NodeExecution.node_id,
                    models.NodeExecution.phase,
                    models.NodeExecution.updated_at,
                    parent.c.node_id,
                )
                .outerjoin(parent, parent.c.id == models.NodeExecution.parent_id)
                .where(models.NodeExecution.execution_id == row.id)
                .order_by(models.NodeExecution.id)
            ).all()
            return ExecutionPhases(
                phase=row.phase,
                updated_at=row.updated_at,
                nodes=tuple(
                    NodePhase(node_id, phase, updated_at, parent_node_id or "")
                    for node_id, phase, updated_at, parent_node_id in nodes
                ),
            )

    def phase_counts(self, project: str, domain: str) -> dict[int, int]:
        """How many executions of ``project``/``domain`` (archived ones left out, as lists leave them out) are in
        each phase: one grouped count over the (project, domain, phase) index."""
        validation.project_id(project, "project")
        execution = models.Execution
        with self.ctx.db.session() as session:
            rows = session.execute(
                select(execution.phase, func.count())
                .where(
                    execution.project == project,
                    execution.domain == domain,
                    execution.state == execution_pb2.EXECUTION_ACTIVE,
                )
                .group_by(execution.phase)
            ).all()
        return {int(phase): int(count) for phase, count in rows}
