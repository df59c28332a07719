"""A launch plan's ``concurrency_policy``: at most ``max`` active executions of the launch plan (its project,
domain and name, any version), as flyteadmin counts them; what happens to the excess is its ``behavior``.

- ``CONCURRENCY_LIMIT_BEHAVIOR_SKIP`` (flyteadmin's only one): CreateExecution is ALREADY_EXISTS, ``concurrency
  limit (N) reached for launch plan NAME; skipping execution``, and nothing is created (a scheduler takes that
  fire time as done).
- Roost's extension, the launch plan annotation ``roost/concurrency-behavior: wait``: the excess execution is
  created QUEUED but *held* (not claimable by any engine worker, not counted as active) until an active one
  ends; held executions then start oldest first. ``skip`` there is the same as SKIP.
- Unspecified behavior and no annotation: no limit, as in flyteadmin.

Active means not ended and not held. Admission and release of one launch plan are serialized on PostgreSQL
by a transaction-scoped advisory lock on the launch plan's name (SQLite has one writer anyway).
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable

from flyteidl.admin import launch_plan_pb2
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from roost_admin.db import models
from roost_admin.db.base import utcnow
from roost_admin.errors import AlreadyExists, InvalidArgument
from roost_admin.services.rows import TERMINAL_WORKFLOW

BEHAVIOR_ANNOTATION = "roost/concurrency-behavior"
"""The launch plan annotation choosing what happens beyond the limit: ``wait`` or ``skip``."""


class Behavior(enum.Enum):
    """What happens to an execution beyond the launch plan's limit."""

    SKIP = "skip"
    WAIT = "wait"


def behavior(spec: launch_plan_pb2.LaunchPlanSpec, what: str) -> Behavior | None:
    """The behavior a launch plan asks for, or None when it sets no limit; INVALID_ARGUMENT naming the field
    for a policy that cannot work (``what`` names the launch plan)."""
    if not spec.HasField("concurrency_policy"):
        if BEHAVIOR_ANNOTATION in spec.annotations.values:
            raise InvalidArgument(
                f"{what}: spec.annotations['{BEHAVIOR_ANNOTATION}'] needs a spec.concurrency_policy",
                field="spec.annotations",
            )
        return None
    policy = spec.concurrency_policy
    annotation = spec.annotations.values.get(BEHAVIOR_ANNOTATION)
    if annotation is not None:
        try:
            chosen: Behavior | None = Behavior(annotation.strip().lower())
        except ValueError:
            raise InvalidArgument(
                f"{what}: spec.annotations['{BEHAVIOR_ANNOTATION}'] {annotation!r} is neither 'wait' nor 'skip'",
                field="spec.annotations",
            ) from None
    elif policy.behavior == launch_plan_pb2.CONCURRENCY_LIMIT_BEHAVIOR_SKIP:
        chosen = Behavior.SKIP
    else:
        chosen = None
    if chosen is not None and policy.max < 1:
        raise InvalidArgument(
            f"{what}: spec.concurrency_policy.max must be at least 1, not {policy.max}",
            field="spec.concurrency_policy.max",
        )
    return chosen


def _lock(session: Session, project: str, domain: str, name: str) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.sha256(f"concurrency:{project}/{domain}/{name}".encode()).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _active(session: Session, project: str, domain: str, name: str) -> int:
    """Active executions of the launch plan (any version)."""
    executions, plans = models.Execution, models.LaunchPlan
    count = session.scalar(
        select(func.count(executions.id))
        .join(plans, executions.launch_plan_id == plans.id)
        .where(
            executions.project == project,
            executions.domain == domain,
            plans.name == name,
            executions.phase.not_in(TERMINAL_WORKFLOW),
            executions.held_limit == 0,
        )
    )
    return int(count or 0)


def admit(session: Session, plan: launch_plan_pb2.LaunchPlan, what: str) -> int:
    """The limit a new execution of ``plan`` must be held under (0: it may run now); ALREADY_EXISTS when the
    limit is reached and the behavior is to skip."""
    chosen = behavior(plan.spec, what)
    if chosen is None:
        return 0
    ident = plan.id
    _lock(session, ident.project, ident.domain, ident.name)
    limit = int(plan.spec.concurrency_policy.max)
    if _active(session, ident.project, ident.domain, ident.name) < limit:
        return 0
    if chosen is Behavior.SKIP:
        raise AlreadyExists(
            f"concurrency limit ({limit}) reached for launch plan {ident.name}; skipping execution"
        )
    return limit


def release(session: Session, ended: Iterable[models.Execution]) -> bool:
    """Start held executions of the launch plans of ``ended`` executions, oldest first, as far as their
    limits allow; whether any was started (so the caller pokes the engine workers after committing)."""
    started = False
    seen: set[int] = set()
    for row in ended:
        if row.launch_plan_id is None or row.launch_plan_id in seen:
            continue
        seen.add(row.launch_plan_id)
        plan_row = session.get(models.LaunchPlan, row.launch_plan_id)
        if plan_row is None:
            continue
        started |= _release_plan(session, plan_row.project, plan_row.domain, plan_row.name)
    return started


def _release_plan(session: Session, project: str, domain: str, name: str) -> bool:
    executions, plans = models.Execution, models.LaunchPlan
    held = select(executions.id, executions.held_limit).join(plans, executions.launch_plan_id == plans.id)
    held = held.where(
        executions.project == project,
        executions.domain == domain,
        plans.name == name,
        executions.held_limit > 0,
        executions.phase.not_in(TERMINAL_WORKFLOW),
    )
    if not session.execute(held.limit(1)).first():
        return False
    _lock(session, project, domain, name)
    started = False
    for execution_id, limit in session.execute(held.order_by(executions.created_at, executions.id)).all():
        if _active(session, project, domain, name) >= limit:
            break
        session.execute(
            update(executions)
            .where(executions.id == execution_id, executions.held_limit > 0)
            .values(held_limit=0, wake_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        session.flush()
        started = True
    return started
