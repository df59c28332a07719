"""Scheduler lag: 1,000 active launch plans on one every-minute cron schedule, all due at the same minute; the lag
of each is the time from its scheduled time to its execution's creation. On SQLite with the scheduler of
`roost start`, and on PostgreSQL (when reachable) with it and a second scheduler sharing the work. Printed,
never asserted; about a minute and a half per database (most of it waiting for the minute)."""

from __future__ import annotations

import datetime
import time

from _bench_flows import one
from _bench_support import (
    DOMAIN,
    PROJECT,
    VERSION,
    bench_admin,
    ms,
    on_each_database,
    p50,
    percentile,
    print_table,
    register,
)
from flyteidl.admin import common_pb2, launch_plan_pb2
from flyteidl.core import identifier_pb2
from sqlalchemy import select

from roost import CronSchedule, LaunchPlan
from roost_admin.db import models
from roost_admin.db.base import Database
from roost_admin.services import ServiceContext, Services
from roost_admin.services.schedules import execution_name
from roost_admin.workers.scheduler import SchedulerThread

SCHEDULES = 1_000
TEMPLATE = LaunchPlan.get_or_create(
    one, "bench.every_minute", default_inputs={"x": 1}, schedule=CronSchedule("* * * * *")
)


def run(label: str, url: str) -> tuple[str, ...]:
    """Register and activate the schedules, wait for their common minute, measure each one's lag: with the
    scheduler of `roost start` alone on SQLite, and with a second scheduler sharing the work on PostgreSQL."""
    schedulers = 1 if url.startswith("sqlite") else 2
    with bench_admin(url) as (app, admin):
        register(admin, [TEMPLATE])
        plan = admin.GetLaunchPlan(
            common_pb2.ObjectGetRequest(
                id=identifier_pb2.Identifier(
                    resource_type=identifier_pb2.LAUNCH_PLAN,
                    project=PROJECT,
                    domain=DOMAIN,
                    name=TEMPLATE.name,
                    version=VERSION,
                )
            )
        )
        names = [f"bench.every_minute_{index}" for index in range(SCHEDULES)]
        for name in names:
            ident = identifier_pb2.Identifier()
            ident.CopyFrom(plan.id)
            ident.name = name
            admin.CreateLaunchPlan(launch_plan_pb2.LaunchPlanCreateRequest(id=ident, spec=plan.spec))
            admin.UpdateLaunchPlan(
                launch_plan_pb2.LaunchPlanUpdateRequest(id=ident, state=launch_plan_pb2.ACTIVE)
            )
        extra = []
        for _ in range(schedulers - 1):
            services = Services(
                ServiceContext(
                    settings=app.settings, db=Database(url), storage=app.storage, plugins=app.plugins
                )
            )
            thread = SchedulerThread(services)
            thread.start()
            extra.append((thread, services))
        # Every schedule is due at the next minute (those activated before the last one fired at it already).
        now = app.services.context.clock()
        target = now.replace(second=0, microsecond=0) + datetime.timedelta(minutes=1)
        expected = [execution_name(PROJECT, DOMAIN, name, target) for name in names]
        created = _wait(app.services, target, expected)
        for thread, services in extra:
            thread.stop()
            services.context.db.dispose()
    lags = [(moment - target).total_seconds() for moment in created]
    return (
        f"{label}, {schedulers} scheduler(s)",
        str(len(lags)),
        ms(p50(lags)),
        ms(percentile(lags, 0.99)),
        ms(max(lags)),
    )


def _wait(services: Services, target: datetime.datetime, names: list[str]) -> list[datetime.datetime]:
    """The creation times of the executions named ``names``, once all exist."""
    deadline = time.monotonic() + (target - services.context.clock()).total_seconds() + 300
    while True:
        with services.context.db.session() as session:
            stamps = session.scalars(
                select(models.Execution.created_at).where(models.Execution.name.in_(names))
            ).all()
        if len(stamps) == len(names):
            return [s if s.tzinfo else s.replace(tzinfo=datetime.UTC) for s in stamps]
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(stamps)} of {len(names)} scheduled executions were created")
        time.sleep(0.5)


def main() -> None:
    """Both databases, one table."""
    skipped: tuple[str, ...] = ("PostgreSQL: skipped (no server at 127.0.0.1:5432)", "", "", "", "")
    rows = on_each_database(run, skipped)
    print_table(
        f"Scheduler lag: {SCHEDULES} schedules due at one minute (scheduled time -> execution created)",
        ["setup", "n", "p50", "p99", "max"],
        rows,
        note="The lag of the last one is how long the schedulers take to create all of them.",
    )


if __name__ == "__main__":
    main()
