"""The scheduler: active launch plans with a schedule launch an execution at each of their fire times, exactly
once, however many schedulers run.

Starting and stopping. Activating a launch plan version (``UpdateLaunchPlan``) writes its schedule's row in
``schedules`` in the same transaction (:func:`on_state_change`): anchored at the activation, first due at the
schedule's next time after it. A newly activated version replaces the row of the name's previous one (a new
anchor, nothing before it caught up); deactivating deletes it.

Exactly once. Every fire time has one execution name (:func:`~roost_admin.services.schedules.execution_name`,
from the launch plan's project, domain, name and the time), and executions are created through the executions
service, whose unique key makes a second launch of the same time ``AlreadyExists``, which the scheduler takes as
done. A scheduler claims a due row (``claimed_by``, ``lease_until``) before firing it, so two schedulers rarely
do the same work; the row's ``next_fire_at`` moves past a time only after its execution exists, so a scheduler
that dies mid-way leaves the time to whoever claims the row next (after the lease), and a time is never missed.

Catch-up. A time launched more than ``scheduler.misfire_grace`` late was missed (the schedulers were down). Of
the missed times of a schedule, the latest ``scheduler.catch_up_limit`` are launched, oldest first; older ones
are skipped and logged. A launch plan's annotation ``roost/schedule-catch-up`` sets its own limit: ``false``
(none: only times still within the grace are launched), ``true`` (the setting) or a number.

Backfill. :meth:`Scheduler.backfill_plan` lists a window's fire times with the names the scheduler gives them
(a fixed rate on the running schedule's grid), and :meth:`Scheduler.launch_time` launches one, so a backfill and
the live schedule never double up.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass

from flyteidl.admin import execution_pb2, launch_plan_pb2
from flyteidl.core import identifier_pb2
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from roost_admin.db import models
from roost_admin.errors import AlreadyExists, ClientError, InvalidArgument, NotFound
from roost_admin.services import entities, schedules, validation
from roost_admin.services.base import Service
from roost_admin.services.context import ServiceContext
from roost_admin.services.executions import Executions
from roost_admin.services.schedules import Schedule

log = logging.getLogger(__name__)

PRINCIPAL = "roost-scheduler"
"""Who scheduled executions are created by (their ``spec.metadata.principal``)."""
ROUND_LIMIT = 100
"""Due schedules one round looks at, at most (the rest come in the next round)."""
BACKFILL_LIMIT = 10_000
"""Fire times one backfill may make, at most."""
_S = models.ScheduleState


@dataclass(frozen=True)
class Fired:
    """One fire time a scheduler launched (or found already launched)."""

    launch_plan: str
    """``project/domain/name``."""
    moment: datetime.datetime
    name: str
    """The execution's name."""
    created: bool
    """False when the execution already existed (another scheduler or a backfill made it)."""


@dataclass(frozen=True)
class PlannedRun:
    """One fire time of a backfill window."""

    moment: datetime.datetime
    name: str
    """The execution name the scheduler gives this time."""
    exists: bool
    """Whether that execution exists already."""


def check_launch_plan(
    ctx: ServiceContext, spec: launch_plan_pb2.LaunchPlanSpec, what: str
) -> Schedule | None:
    """The launch plan's schedule, after checking it and its catch-up annotation (INVALID_ARGUMENT naming the
    launch plan and the field otherwise)."""
    schedule = schedules.parse(spec.entity_metadata.schedule, what)
    schedules.catch_up_limit(spec, ctx.settings.scheduler.catch_up_limit, what)
    return schedule


def on_state_change(ctx: ServiceContext, session: Session, row: models.LaunchPlan) -> None:
    """Start, replace or stop the schedule of ``row``'s name after its state changed (in the caller's
    transaction)."""
    key = (row.project, row.domain, row.name)
    current = session.get(_S, key)
    if row.state != entities.ACTIVE:
        if current is not None and current.launch_plan_id == row.id:
            session.delete(current)
        return
    if current is not None and current.launch_plan_id == row.id:
        return
    plan = entities.launch_plan_message(ctx, row)
    schedule = check_launch_plan(ctx, plan.spec, f"launch plan '{entities.entity_text(plan.id)}'")
    if schedule is None:
        if current is not None:
            session.delete(current)
        return
    now = ctx.clock()
    values = {
        "launch_plan_id": row.id,
        "anchor": now,
        "next_fire_at": schedule.after(now, now),
        "last_fire_at": None,
        "claimed_by": "",
        "lease_until": None,
        "last_error": "",
        "updated_at": now,
    }
    if current is None:
        session.add(_S(project=row.project, domain=row.domain, name=row.name, **values))
    else:
        for name, value in values.items():
            setattr(current, name, value)
    log.info(
        "schedule of launch plan %s started with version %s; first time %s",
        "/".join(key),
        row.version,
        values["next_fire_at"],
    )


class Scheduler(Service):
    """Fires due schedules (:meth:`fire_due`), and plans and launches backfills."""

    def __init__(self, ctx: ServiceContext, executions: Executions) -> None:
        super().__init__(ctx)
        self.executions = executions

    # ----------------------------------------------------------------------------------------------
    # firing

    def fire_due(self, owner: str) -> list[Fired]:
        """One round as scheduler ``owner``: claim each due schedule, launch its due times, release it."""
        now = self.ctx.clock()
        with self.ctx.db.session() as session:
            keys = session.execute(
                select(_S.project, _S.domain, _S.name)
                .where(_S.next_fire_at <= now, or_(_S.claimed_by == "", _S.lease_until < now))
                .order_by(_S.next_fire_at)
                .limit(ROUND_LIMIT)
            ).all()
        fired: list[Fired] = []
        for project, domain, name in keys:
            if self._claim((project, domain, name), owner, now):
                try:
                    fired.extend(self._fire((project, domain, name), owner, now))
                finally:
                    self._release((project, domain, name), owner)
        return fired

    def next_due(self) -> datetime.datetime | None:
        """The earliest time any schedule is due (None when none is running)."""
        with self.ctx.db.session() as session:
            moment: datetime.datetime | None = session.scalar(
                select(_S.next_fire_at).where(_S.next_fire_at.is_not(None)).order_by(_S.next_fire_at).limit(1)
            )
        return _aware(moment) if moment is not None else None

    def _claim(self, key: tuple[str, str, str], owner: str, now: datetime.datetime) -> bool:
        lease = datetime.timedelta(seconds=self.ctx.settings.scheduler.lease_seconds)
        with self.ctx.db.begin() as session:
            claimed = session.execute(
                update(_S)
                .where(
                    _S.project == key[0],
                    _S.domain == key[1],
                    _S.name == key[2],
                    _S.next_fire_at <= now,
                    or_(_S.claimed_by == "", _S.lease_until < now),
                )
                .values(claimed_by=owner, lease_until=now + lease)
            )
        return bool(claimed.rowcount)  # type: ignore[attr-defined]

    def _release(self, key: tuple[str, str, str], owner: str) -> None:
        with self.ctx.db.begin() as session:
            session.execute(
                update(_S)
                .where(_S.project == key[0], _S.domain == key[1], _S.name == key[2], _S.claimed_by == owner)
                .values(claimed_by="", lease_until=None)
            )

    def _advance(
        self,
        key: tuple[str, str, str],
        owner: str,
        plan_row_id: int,
        next_fire_at: datetime.datetime | None,
        last: datetime.datetime | None,
        error: str,
    ) -> bool:
        """Move the schedule on, if ``owner`` still holds it for the same version (a newly activated version
        replaced the row, and its times are its own)."""
        values: dict[str, object] = {
            "next_fire_at": next_fire_at,
            "last_error": error,
            "updated_at": self.ctx.clock(),
        }
        if last is not None:
            values["last_fire_at"] = last
        with self.ctx.db.begin() as session:
            moved = session.execute(
                update(_S)
                .where(
                    _S.project == key[0],
                    _S.domain == key[1],
                    _S.name == key[2],
                    _S.claimed_by == owner,
                    _S.launch_plan_id == plan_row_id,
                )
                .values(**values)
            )
        return bool(moved.rowcount)  # type: ignore[attr-defined]

    def _fire(self, key: tuple[str, str, str], owner: str, now: datetime.datetime) -> list[Fired]:
        text = "/".join(key)
        with self.ctx.db.session() as session:
            state = session.get(_S, key)
            if state is None or state.next_fire_at is None:
                return []
            plan_row = session.get(models.LaunchPlan, state.launch_plan_id)
            if plan_row is None:
                return []
            plan = entities.launch_plan_message(self.ctx, plan_row)
            anchor, first = _aware(state.anchor), _aware(state.next_fire_at)
        what = f"launch plan '{entities.entity_text(plan.id)}'"
        try:
            schedule = check_launch_plan(self.ctx, plan.spec, what)
            limit = schedules.catch_up_limit(plan.spec, self.ctx.settings.scheduler.catch_up_limit, what)
        except ClientError as exc:
            # Registered before this check existed: it can never fire, so it is stopped (and says why).
            log.error("schedule of %s stopped: %s", text, exc.message)
            self._advance(key, owner, plan_row.id, None, None, exc.message)
            return []
        if schedule is None:
            self._advance(key, owner, plan_row.id, None, None, "")
            return []
        due, skipped = self._due_times(schedule, anchor, first, now, limit)
        if skipped is not None:
            log.warning(
                "schedule of %s: missed times from %s on are skipped beyond the catch-up limit of %d; "
                "`roost backfill` can still launch them",
                text,
                skipped.isoformat(),
                limit,
            )
        fired: list[Fired] = []
        error = ""
        for moment in due:
            try:
                name, created = self.launch_time(plan.id, schedule, moment)
            except ClientError as exc:
                # This time can never launch (say, its launch plan's workflow no longer compiles): it is passed
                # over, and its reason kept on the schedule.
                log.error("schedule of %s could not launch %s: %s", text, moment.isoformat(), exc.message)
                error = f"{moment.isoformat()}: {exc.message}"
            except Exception as exc:  # any other fault is retried in a later round
                log.warning(
                    "schedule of %s: launching %s failed, will retry: %s", text, moment.isoformat(), exc
                )
                self._advance(key, owner, plan_row.id, moment, None, f"{moment.isoformat()}: {exc}")
                return fired
            else:
                fired.append(Fired(text, moment, name, created))
                error = ""
            if not self._advance(key, owner, plan_row.id, schedule.after(moment, anchor), moment, error):
                return fired
        if not due:
            # Every time up to now was skipped on purpose (past the catch-up limit); otherwise the last launch
            # already moved the schedule past now.
            self._advance(key, owner, plan_row.id, schedule.after(now, anchor), None, error)
        return fired

    def _due_times(
        self,
        schedule: Schedule,
        anchor: datetime.datetime,
        first: datetime.datetime,
        now: datetime.datetime,
        limit: int,
    ) -> tuple[list[datetime.datetime], datetime.datetime | None]:
        """The times to launch now, ascending: those within the grace, after at most ``limit`` missed ones
        (the latest). Also the oldest missed time skipped, if the limit left any out."""
        cutoff = now - datetime.timedelta(seconds=self.ctx.settings.scheduler.misfire_grace)
        on_time = list(schedule.between(max(first, cutoff), now, anchor))
        missed: list[datetime.datetime] = []
        skipped = None
        if first < cutoff:
            for moment in schedule.backward(cutoff, anchor):
                if moment < first:
                    break
                if len(missed) == limit:
                    skipped = first
                    break
                missed.append(moment)
        return [*reversed(missed), *on_time], skipped

    def launch_time(
        self, plan_id: identifier_pb2.Identifier, schedule: Schedule, moment: datetime.datetime
    ) -> tuple[str, bool]:
        """Launch launch plan version ``plan_id`` for its fire time ``moment``: the execution's name and whether
        this call created it (False: it existed already, which is how a second launch of a time ends)."""
        name = schedules.execution_name(plan_id.project, plan_id.domain, plan_id.name, moment)
        spec = execution_pb2.ExecutionSpec(
            launch_plan=identifier_pb2.Identifier(
                resource_type=identifier_pb2.LAUNCH_PLAN,
                project=plan_id.project,
                domain=plan_id.domain,
                name=plan_id.name,
                version=plan_id.version,
            ),
            metadata=execution_pb2.ExecutionMetadata(
                mode=execution_pb2.ExecutionMetadata.SCHEDULED, principal=PRINCIPAL
            ),
        )
        spec.metadata.scheduled_at.FromDatetime(moment.astimezone(schedules.UTC).replace(tzinfo=None))
        request = execution_pb2.ExecutionCreateRequest(
            project=plan_id.project,
            domain=plan_id.domain,
            name=name,
            spec=spec,
            inputs=schedule.inputs(moment),
        )
        try:
            self.executions.create_execution(request)
        except AlreadyExists:
            return name, False
        return name, True

    # ----------------------------------------------------------------------------------------------
    # backfill

    def backfill_plan(
        self,
        project: str,
        domain: str,
        name: str,
        start: datetime.datetime,
        end: datetime.datetime,
        *,
        version: str = "",
    ) -> tuple[launch_plan_pb2.LaunchPlan, Schedule, list[PlannedRun]]:
        """The fire times of launch plan ``project/domain/name`` (its active version, or ``version``) from
        ``start`` to ``end`` (both included), with their execution names and whether each exists."""
        self.check_scope(project, domain, "launch plan")
        validation.entity_name(name, "launch plan name")
        if start.tzinfo is None or end.tzinfo is None:
            raise InvalidArgument(
                "the backfill window's times need a time zone (or are taken as UTC by the CLI)"
            )
        if start > end:
            raise InvalidArgument(
                f"the backfill window starts ({start.isoformat()}) after it ends ({end.isoformat()})"
            )
        with self.ctx.db.session() as session:
            row = self._plan_row(session, project, domain, name, version)
            plan = entities.launch_plan_message(self.ctx, row)
            running = session.get(_S, (project, domain, name))
            anchor = _aware(running.anchor) if running is not None else None
        what = f"launch plan '{entities.entity_text(plan.id)}'"
        schedule = check_launch_plan(self.ctx, plan.spec, what)
        if schedule is None:
            raise InvalidArgument(f"{what} has no schedule to backfill")
        if schedule.kind == "rate":
            # On the running schedule's grid (so names match it); without one, the window's start is on it.
            grid = anchor if anchor is not None else start
            if grid > start:
                grid -= ((grid - start) // schedule.every + 1) * schedule.every
            anchor = grid - schedule.every if anchor is None else grid
        moments: list[datetime.datetime] = []
        for moment in schedule.between(start, end, anchor or start):
            if len(moments) == BACKFILL_LIMIT:
                raise InvalidArgument(
                    f"{what}: the window {start.isoformat()} to {end.isoformat()} holds more than "
                    f"{BACKFILL_LIMIT} fire times; backfill it in parts"
                )
            moments.append(moment)
        names = [schedules.execution_name(project, domain, name, moment) for moment in moments]
        with self.ctx.db.session() as session:
            existing = set(
                session.scalars(
                    select(models.Execution.name).where(
                        models.Execution.project == project,
                        models.Execution.domain == domain,
                        models.Execution.name.in_(names),
                    )
                )
            )
        return plan, schedule, [PlannedRun(m, n, n in existing) for m, n in zip(moments, names, strict=True)]

    @staticmethod
    def _plan_row(session: Session, project: str, domain: str, name: str, version: str) -> models.LaunchPlan:
        text = f"{project}/{domain}/{name}"
        if version:
            ident = identifier_pb2.Identifier(
                resource_type=identifier_pb2.LAUNCH_PLAN,
                project=project,
                domain=domain,
                name=name,
                version=version,
            )
            row: models.LaunchPlan = entities.get_row(session, entities.LAUNCH_PLAN, ident)
            return row
        active = entities.active_launch_plan_row(session, project, domain, name)
        if active is None:
            raise NotFound(f"launch plan '{text}' has no active version; name the version to backfill")
        return active


def _aware(moment: datetime.datetime) -> datetime.datetime:
    """A database time as an aware UTC datetime (SQLite gives them back naive)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=schedules.UTC)
