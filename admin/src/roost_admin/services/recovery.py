"""RecoverExecution, and Roost's resume-with-edits over the same RPC.

Recover, as flyteadmin does it: a new execution of the original's launch plan and inputs, its spec the
original's with ``metadata.mode = RECOVERED`` and ``metadata.reference_execution`` naming the original. The
engine then reuses every node that succeeded in the original (:mod:`roost_core.engine.recovery`).

Resume (an extension: flyteidl has no field for it) runs the same launch plan name at another version on the
original's inputs, reusing only what is unchanged. It is asked for with request metadata:

- ``roost-resume-version``: the version to run, or ``latest`` for the newest registered one;
- ``roost-resume-dry-run: true``: create nothing; the answer's trailing metadata ``roost-resume-plan`` holds
  the JSON list of ``{"node", "reuse", "reason"}`` the engine would decide.

Everything is checked before anything is written, in one transaction: nothing is half-created.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from flyteidl.admin import execution_pb2
from flyteidl.core import compiler_pb2, identifier_pb2, literals_pb2
from sqlalchemy import select
from sqlalchemy.orm import Session

from roost_admin.db import models
from roost_admin.errors import FailedPrecondition, InvalidArgument, NotFound
from roost_admin.services import entities, launching, validation, views
from roost_admin.services.base import Service
from roost_admin.services.rows import (
    TERMINAL_WORKFLOW,
    execution_key,
    get_execution,
    workflow_phase_name,
)
from roost_admin.services.state import load_state
from roost_core.engine.recovery import RecoverySource, interface_changes, plan_resume

RESUME_VERSION_HEADER = "roost-resume-version"
"""Request metadata naming the version to resume on (``latest`` for the newest)."""
RESUME_DRY_RUN_HEADER = "roost-resume-dry-run"
"""Request metadata: ``true`` to only plan the resume."""
RESUME_PLAN_TRAILER = "roost-resume-plan"
"""Trailing metadata of a dry run: the plan as JSON."""
LATEST = "latest"


@dataclass(frozen=True, slots=True)
class ResumeRequest:
    """The resume extension of one RecoverExecution call."""

    version: str = ""
    dry_run: bool = False

    @classmethod
    def from_metadata(cls, metadata: Iterable[tuple[str, str | bytes]]) -> ResumeRequest:
        """Read the extension's headers; a dry run without a version is INVALID_ARGUMENT."""
        values = {key: value for key, value in metadata if isinstance(value, str)}
        version = values.get(RESUME_VERSION_HEADER, "").strip()
        dry_run = values.get(RESUME_DRY_RUN_HEADER, "").strip().lower() in ("1", "true", "yes")
        if dry_run and not version:
            raise InvalidArgument(
                f"{RESUME_DRY_RUN_HEADER} plans a resume: it needs {RESUME_VERSION_HEADER} (a version or 'latest')"
            )
        return cls(version, dry_run)


@dataclass(frozen=True, slots=True)
class RecoverResult:
    """The new execution's id (unset for a dry run) and, for a resume, the plan as JSON."""

    response: execution_pb2.ExecutionCreateResponse
    plan: str = ""


def _resume_target(
    session: Session, original: identifier_pb2.Identifier, version: str, key: str
) -> models.LaunchPlan:
    """The launch plan to resume on: the original's name at ``version`` (or the newest)."""
    if original.resource_type != identifier_pb2.LAUNCH_PLAN:
        raise InvalidArgument(
            f"execution {key} ran task '{original.name}', not a workflow: only workflow executions can be "
            "resumed on another version"
        )
    query = select(models.LaunchPlan).where(
        models.LaunchPlan.project == original.project,
        models.LaunchPlan.domain == original.domain,
        models.LaunchPlan.name == original.name,
    )
    if version == LATEST:
        row = session.scalar(query.order_by(models.LaunchPlan.created_at.desc(), models.LaunchPlan.id.desc()))
    else:
        validation.text(version, "resume version")
        row = session.scalar(query.where(models.LaunchPlan.version == version))
    if row is None:
        raise NotFound(
            f"launch plan '{original.project}/{original.domain}/{original.name}@{version}' does not exist: "
            f"execution {key} can be resumed only on a registered version of its launch plan"
        )
    return row


class Recovery(Service):
    """Recovering and resuming executions."""

    def recover_execution(
        self, request: execution_pb2.ExecutionRecoverRequest, resume: ResumeRequest | None = None
    ) -> RecoverResult:
        """Recover an ended execution (or resume it on another version, see the module docstring)."""
        resume = resume or ResumeRequest()
        ident = validation.execution_id(self.ctx.settings.domains, request.id)
        if request.name:
            validation.execution_name(request.name)
        storage = self.ctx.storage
        with self.ctx.db.begin() as session:
            original = get_execution(session, ident)
            key = execution_key(original)
            if original.phase not in TERMINAL_WORKFLOW:
                phase = workflow_phase_name(original.phase)
                raise FailedPrecondition(
                    f"execution {key} is still {phase}: only an execution that ended can be recovered"
                )
            state = load_state(session, original.id, key)
            if state is None:
                raise FailedPrecondition(f"execution {key} has no saved state to recover from")
            spec = execution_pb2.ExecutionSpec()
            spec.CopyFrom(views.execution_message(self.ctx, session, original).spec)
            plan = ""
            if resume.version:
                target = _resume_target(session, spec.launch_plan, resume.version, key)
                new_closure = self._check_resumable(session, original, target, state.closure_uri, key)
                spec.launch_plan.version = target.version
                if resume.dry_run:
                    decisions = plan_resume(RecoverySource.of(state, resume=True), new_closure, storage)
                    plan = json.dumps(
                        [{"node": d.node, "reuse": d.reuse, "reason": d.reason} for d in decisions]
                    )
                    return RecoverResult(execution_pb2.ExecutionCreateResponse(), plan)
            spec.metadata.mode = execution_pb2.ExecutionMetadata.RECOVERED
            spec.metadata.reference_execution.CopyFrom(ident)
            spec.metadata.ClearField("parent_node_execution")
            if request.metadata.principal:
                spec.metadata.principal = request.metadata.principal
            inputs = literals_pb2.LiteralMap()
            given, _ = views.literal_data(self.ctx, original.user_inputs_uri)
            if given is not None:
                inputs.CopyFrom(given)
            new_id = launching.create_execution(
                self.ctx,
                session,
                project=original.project,
                domain=original.domain,
                name=request.name,
                spec=spec,
                inputs=inputs,
                recover_from=RecoverySource.of(state, resume=bool(resume.version)),
            )
        self.ctx.wakeups.announce()
        return RecoverResult(execution_pb2.ExecutionCreateResponse(id=new_id), plan)

    def _check_resumable(
        self,
        session: Session,
        original: models.Execution,
        target: models.LaunchPlan,
        closure_uri: str,
        key: str,
    ) -> compiler_pb2.CompiledWorkflowClosure:
        """The target's compiled workflow, once it is known to run the original's workflow with a compatible
        interface; INVALID_ARGUMENT naming what differs otherwise."""
        workflow_row = session.get(models.Workflow, target.workflow_id)
        if workflow_row is None:
            raise FailedPrecondition(
                f"launch plan {target.name}@{target.version} points to a workflow that is gone"
            )
        before = session.get(models.Workflow, original.workflow_id) if original.workflow_id else None
        if before is not None and before.name != workflow_row.name:
            raise InvalidArgument(
                f"launch plan '{target.name}@{target.version}' runs workflow '{workflow_row.name}', not "
                f"'{before.name}' which execution {key} ran: an execution resumes only on a version of its own "
                "workflow"
            )
        new_closure = entities.workflow_message(self.ctx, workflow_row).closure.compiled_workflow
        old_closure = self.ctx.storage.read_proto(closure_uri, compiler_pb2.CompiledWorkflowClosure)
        problems = interface_changes(old_closure, new_closure)
        if problems:
            raise InvalidArgument(
                f"workflow '{workflow_row.name}@{workflow_row.version}' cannot resume execution {key}: "
                + "; ".join(problems)
            )
        return new_closure
