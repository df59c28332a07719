"""The scheduler service over a real database (SQLite and PostgreSQL) and a clock the tests drive: activation
starts and replaces schedules, each fire time makes one execution through the executions service, catch-up
after downtime, backfills with the scheduler's names, and two schedulers racing on PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import schedule_flows as sf
from conftest import fresh_database
from flyteidl.admin import execution_pb2, launch_plan_pb2
from flyteidl.core import identifier_pb2
from sqlalchemy import func, select

from roost_admin.config import Settings
from roost_admin.db import models
from roost_admin.db.base import Database
from roost_admin.db.migrate import upgrade
from roost_admin.errors import InvalidArgument, NotFound
from roost_admin.services import ServiceContext, Services, schedules
from roost_admin.services.blob_cache import BlobCache
from roost_core.plugins import EnginePlugins
from roost_core.storage import build_storage

UTC = datetime.UTC
T0 = datetime.datetime(2026, 1, 5, 9, 58, 30, tzinfo=UTC)
MINUTE = datetime.timedelta(minutes=1)


class FakeClock:
    """A clock the test moves (shared by every scheduler of a test, as real ones share the wall clock)."""

    def __init__(self, start: datetime.datetime) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime.datetime:
        with self._lock:
            return self._now

    def advance(self, delta: datetime.timedelta) -> datetime.datetime:
        with self._lock:
            self._now += delta
            return self._now

    def set(self, moment: datetime.datetime) -> None:
        with self._lock:
            self._now = moment


@contextmanager
def built(url: str, folder: Path, clock: FakeClock, **settings: Any) -> Iterator[Services]:
    """Services over ``url`` (migrated) with ``clock``, as one admin or scheduler process has them."""
    config = Settings(data_dir=folder, db_url=url, workers=0, **settings)
    db = Database(url)
    upgrade(db)
    storage = build_storage(
        EnginePlugins(), {"file": {"url_base": "http://nowhere/data", "signing_key": b"k"}}
    )
    made = Services(ServiceContext(settings=config, db=db, storage=storage, clock=clock))
    made.projects.ensure_defaults()
    try:
        yield made
    finally:
        db.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def services(database_url: str, tmp_path: Path, clock: FakeClock) -> Iterator[Services]:
    with built(database_url, tmp_path, clock) as made:
        sf.register_workflow(made)
        yield made


def _name(plan: str, moment: datetime.datetime) -> str:
    return schedules.execution_name(sf.PROJECT, sf.DOMAIN, plan, moment)


def _at(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text)


def _execution(services: Services, name: str) -> execution_pb2.Execution:
    ident = identifier_pb2.WorkflowExecutionIdentifier(project=sf.PROJECT, domain=sf.DOMAIN, name=name)
    return services.executions.get_execution(execution_pb2.WorkflowExecutionGetRequest(id=ident))


def _kickoff(services: Services, name: str) -> datetime.datetime:
    ident = identifier_pb2.WorkflowExecutionIdentifier(project=sf.PROJECT, domain=sf.DOMAIN, name=name)
    data = services.executions.get_execution_data(execution_pb2.WorkflowExecutionGetDataRequest(id=ident))
    return data.full_inputs.literals["kickoff"].scalar.primitive.datetime.ToDatetime(tzinfo=UTC)


def test_an_activated_cron_schedule_fires_each_time_once_with_its_kickoff_time(services, clock):
    sf.register_plan(services, "tenly", sf.cron("*/10 * * * *"))
    assert services.scheduler.fire_due("a") == [], "an inactive launch plan does not fire"
    sf.set_active(services, "tenly")
    assert services.scheduler.next_due() == _at("2026-01-05T10:00:00+00:00")

    clock.set(_at("2026-01-05T09:59:59+00:00"))
    assert services.scheduler.fire_due("a") == []
    clock.set(_at("2026-01-05T10:00:00.400+00:00"))
    fired = services.scheduler.fire_due("a")
    ten = _at("2026-01-05T10:00:00+00:00")
    assert [(f.launch_plan, f.moment, f.name, f.created) for f in fired] == [
        ("flytesnacks/development/tenly", ten, _name("tenly", ten), True)
    ]
    assert services.scheduler.fire_due("a") == [] and services.scheduler.fire_due("b") == []

    execution = _execution(services, _name("tenly", ten))
    assert execution.spec.launch_plan.name == "tenly" and execution.spec.launch_plan.version == "v1"
    assert execution.spec.metadata.mode == execution_pb2.ExecutionMetadata.SCHEDULED
    assert execution.spec.metadata.principal == "roost-scheduler"
    assert execution.spec.metadata.scheduled_at.ToDatetime(tzinfo=UTC) == ten
    assert _kickoff(services, execution.id.name) == ten
    assert services.scheduler.next_due() == _at("2026-01-05T10:10:00+00:00")


def test_deactivating_stops_and_a_new_version_replaces_the_schedule(services, clock):
    sf.register_plan(services, "swap", sf.cron("* * * * *"))
    sf.register_plan(services, "swap", sf.cron("*/5 * * * *"), version="v2")
    sf.register_plan(services, "swap", sf.cron("* * * * *"), version="v3")
    sf.set_active(services, "swap")
    clock.set(_at("2026-01-05T10:00:10+00:00"))
    assert [f.moment for f in services.scheduler.fire_due("a")] == [
        _at("2026-01-05T09:59:00+00:00"),
        _at("2026-01-05T10:00:00+00:00"),
    ]

    # v2 replaces v1's schedule: anchored now, nothing before it caught up, its own times.
    sf.set_active(services, "swap", version="v2")
    clock.set(_at("2026-01-05T10:04:30+00:00"))
    assert services.scheduler.fire_due("a") == []
    clock.set(_at("2026-01-05T10:05:00+00:00"))
    fired = services.scheduler.fire_due("a")
    assert [(f.moment, f.created) for f in fired] == [(_at("2026-01-05T10:05:00+00:00"), True)]
    assert _execution(services, fired[0].name).spec.launch_plan.version == "v2"

    sf.set_active(services, "swap", active=False, version="v2")
    assert services.scheduler.next_due() is None
    clock.set(_at("2026-01-05T11:00:00+00:00"))
    assert services.scheduler.fire_due("a") == []

    # Activating it again starts afresh (the inactive hour is not caught up).
    sf.set_active(services, "swap", version="v3")
    clock.set(_at("2026-01-05T11:01:00+00:00"))
    assert [f.moment for f in services.scheduler.fire_due("a")] == [_at("2026-01-05T11:01:00+00:00")]
    # A version without a schedule stops the name's schedule when activated.
    sf.register_workflow(services)
    unscheduled = sf.create_plan("swap", sf.cron("* * * * *"), version="none")
    unscheduled.spec.entity_metadata.ClearField("schedule")
    services.registry.create_launch_plan(unscheduled)
    sf.set_active(services, "swap", version="none")
    assert services.scheduler.next_due() is None
    assert len(sf.execution_names(services)) == 4


def test_a_fixed_rate_is_anchored_at_activation(services, clock):
    sf.register_plan(services, "rated", sf.rate(20))
    clock.set(_at("2026-01-05T10:00:07+00:00"))
    sf.set_active(services, "rated")
    clock.set(_at("2026-01-05T11:00:07+00:00"))
    fired = services.scheduler.fire_due("a")
    assert [f.moment for f in fired] == [
        _at("2026-01-05T10:20:07+00:00"),
        _at("2026-01-05T10:40:07+00:00"),
        _at("2026-01-05T11:00:07+00:00"),
    ]
    assert [_kickoff(services, f.name) for f in fired] == [f.moment for f in fired]


def test_after_downtime_missed_times_are_caught_up_in_order_up_to_the_limit(database_url, tmp_path, clock):
    with built(database_url, tmp_path, clock, scheduler={"catch_up_limit": 3}) as services:
        sf.register_workflow(services)
        sf.register_plan(services, "all", sf.cron("*/10 * * * *"))
        sf.register_plan(
            services, "none", sf.cron("*/10 * * * *"), annotations={"roost/schedule-catch-up": "false"}
        )
        sf.register_plan(
            services, "two", sf.cron("*/10 * * * *"), annotations={"roost/schedule-catch-up": "2"}
        )
        for name in ("all", "none", "two"):
            sf.set_active(services, name)
        clock.set(_at("2026-01-05T10:00:30+00:00"))
        assert len(services.scheduler.fire_due("a")) == 3
        # Down from 10:00:30 to 11:30:20: 10:10 ... 11:20 were missed, 11:30 is on time.
        clock.set(_at("2026-01-05T11:30:20+00:00"))
        fired = services.scheduler.fire_due("a")
        by_plan: dict[str, list[str]] = {}
        for f in fired:
            by_plan.setdefault(f.launch_plan.rsplit("/", 1)[1], []).append(f.moment.strftime("%H:%M"))
        assert by_plan == {
            "all": ["10:50", "11:00", "11:10", "11:20", "11:30"][-4:],
            "two": ["11:10", "11:20", "11:30"],
            "none": ["11:30"],
        }
        assert services.scheduler.next_due() == _at("2026-01-05T11:40:00+00:00")
        # Nothing skipped comes back later.
        clock.set(_at("2026-01-05T11:35:00+00:00"))
        assert services.scheduler.fire_due("a") == []


def test_a_launch_that_fails_for_good_is_passed_over_and_recorded(services, clock):
    sf.register_plan(services, "broken", sf.cron("* * * * *"))
    sf.set_active(services, "broken")
    # The project is archived: launching in it is refused (a client error, it will not pass by retrying).
    with services.context.db.begin() as session:
        session.get(models.Project, sf.PROJECT).state = 1
    clock.set(_at("2026-01-05T10:00:00+00:00"))
    assert services.scheduler.fire_due("a") == []
    with services.context.db.session() as session:
        state = session.get(models.ScheduleState, (sf.PROJECT, sf.DOMAIN, "broken"))
        assert state.last_error.startswith("2026-01-05T10:00:00+00:00: ")
        assert "archived" in state.last_error
    assert services.scheduler.next_due() == _at("2026-01-05T10:01:00+00:00")


def test_backfill_names_match_the_schedulers_and_never_double_up(services, clock):
    sf.register_plan(services, "nightly", sf.cron("0 2 * * *"))
    sf.set_active(services, "nightly")
    clock.set(_at("2026-01-08T02:00:01+00:00"))
    live = {f.name for f in services.scheduler.fire_due("a")}
    assert len(live) == 3  # 6th, 7th and 8th of January, caught up

    plan, schedule, runs = services.scheduler.backfill_plan(
        sf.PROJECT, sf.DOMAIN, "nightly", _at("2026-01-01T00:00:00+00:00"), _at("2026-01-08T02:00:00+00:00")
    )
    assert plan.id.version == "v1"
    assert [r.moment.day for r in runs] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert {r.name for r in runs if r.exists} == live
    assert all(r.name == _name("nightly", r.moment) for r in runs)
    made = [services.scheduler.launch_time(plan.id, schedule, r.moment) for r in runs]
    assert [created for _, created in made] == [True] * 5 + [False] * 3
    assert _kickoff(services, made[0][0]) == _at("2026-01-01T02:00:00+00:00")
    assert len(sf.execution_names(services)) == 8

    # A fixed rate's backfill lies on the running schedule's grid, before its anchor too.
    sf.register_plan(services, "rated", sf.rate(1, unit=1))
    clock.set(_at("2026-01-08T05:30:00+00:00"))
    sf.set_active(services, "rated")
    clock.set(_at("2026-01-08T07:30:00+00:00"))
    live_rate = [f.moment for f in services.scheduler.fire_due("a")]
    _, _, rate_runs = services.scheduler.backfill_plan(
        sf.PROJECT, sf.DOMAIN, "rated", _at("2026-01-08T03:00:00+00:00"), _at("2026-01-08T07:00:00+00:00")
    )
    assert [r.moment.strftime("%H:%M") for r in rate_runs] == ["03:30", "04:30", "05:30", "06:30"]
    assert [r.exists for r in rate_runs] == [False, False, False, True]
    assert live_rate == [_at("2026-01-08T06:30:00+00:00"), _at("2026-01-08T07:30:00+00:00")]


def test_backfill_refuses_what_it_cannot_do(services):
    sf.register_plan(services, "idle", sf.cron("@daily"))
    start, end = _at("2026-01-01T00:00:00+00:00"), _at("2026-01-02T00:00:00+00:00")
    with pytest.raises(NotFound) as inactive:
        services.scheduler.backfill_plan(sf.PROJECT, sf.DOMAIN, "idle", start, end)
    assert inactive.value.message == (
        "launch plan 'flytesnacks/development/idle' has no active version; name the version to backfill"
    )
    _, _, runs = services.scheduler.backfill_plan(sf.PROJECT, sf.DOMAIN, "idle", start, end, version="v1")
    assert [r.moment for r in runs] == [start, end]
    with pytest.raises(InvalidArgument) as backwards:
        services.scheduler.backfill_plan(sf.PROJECT, sf.DOMAIN, "idle", end, start, version="v1")
    assert backwards.value.message == (
        "the backfill window starts (2026-01-02T00:00:00+00:00) after it ends (2026-01-01T00:00:00+00:00)"
    )
    with pytest.raises(InvalidArgument) as plain:
        services.scheduler.backfill_plan(
            sf.PROJECT, sf.DOMAIN, "schedule_flows.stamped", start, end, version="v1"
        )
    assert plain.value.message == (
        "launch plan 'flytesnacks/development/schedule_flows.stamped@v1' has no schedule to backfill"
    )
    sf.register_plan(services, "often", sf.cron("* * * * *"))
    with pytest.raises(InvalidArgument) as large:
        services.scheduler.backfill_plan(
            sf.PROJECT, sf.DOMAIN, "often", start, start + datetime.timedelta(days=7), version="v1"
        )
    assert large.value.message == (
        "launch plan 'flytesnacks/development/often@v1': the window 2026-01-01T00:00:00+00:00 to "
        "2026-01-08T00:00:00+00:00 holds more than 10000 fire times; backfill it in parts"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda r: r.spec.entity_metadata.schedule.cron_schedule.__setattr__("schedule", "0 25 * * *"),
            "spec.entity_metadata.schedule.cron_schedule.schedule '0 25 * * *' is not a valid cron expression: "
            "Bad hour",
        ),
        (
            lambda r: r.spec.entity_metadata.schedule.rate.__setattr__("value", 0),
            "spec.entity_metadata.schedule.rate.value must be at least 1",
        ),
        (
            lambda r: r.spec.annotations.values.__setitem__("roost/schedule-catch-up", "-1"),
            "spec.annotations['roost/schedule-catch-up'] is '-1'; it must be 'true', 'false' or a number of "
            "missed times",
        ),
        (
            lambda r: r.spec.entity_metadata.schedule.__setattr__("kickoff_time_input_arg", "label"),
            "spec.entity_metadata.schedule.kickoff_time_input_arg 'label' must be a datetime input, not str",
        ),
    ],
    ids=["cron", "rate", "catch-up", "kickoff-type"],
)
def test_registration_refuses_a_bad_schedule_naming_the_launch_plan_and_field(services, change, message):
    schedule = sf.rate(5) if "rate" in message else sf.cron("@hourly")
    request = sf.create_plan("bad", schedule)
    change(request)
    with pytest.raises(InvalidArgument) as refused:
        services.registry.create_launch_plan(request)
    assert refused.value.message == f"launch plan 'flytesnacks/development/bad@v1': {message}"


def test_activation_refuses_a_stored_schedule_that_is_not_valid(services):
    """A launch plan registered by an admin that did not check schedules yet is refused when activated."""
    sf.register_plan(services, "old", sf.cron("@hourly"))
    with services.context.db.session() as session:
        row = session.scalars(select(models.LaunchPlan).where(models.LaunchPlan.name == "old")).one()
    stored = services.context.storage.read_proto(row.closure_uri, launch_plan_pb2.LaunchPlan)
    stored.spec.entity_metadata.schedule.cron_schedule.schedule = "every hour"
    services.context.storage.write_proto(row.closure_uri, stored)
    # A fresh admin over the same database and store (this one keeps the blob it registered in memory).
    restarted = Services(dataclasses.replace(services.context, blobs=BlobCache()))
    with pytest.raises(InvalidArgument) as refused:
        sf.set_active(restarted, "old")
    assert refused.value.message == (
        "launch plan 'flytesnacks/development/old@v1': spec.entity_metadata.schedule.cron_schedule.schedule "
        "'every hour' has 2 fields; a cron schedule has 5 (minute hour day-of-month month day-of-week) or is an "
        "alias (@hourly, @daily, @weekly, @monthly, @yearly)"
    )
    assert services.scheduler.next_due() is None


@pytest.mark.postgres
def test_two_schedulers_on_postgres_fire_every_time_exactly_once(tmp_path, clock):
    """Two scheduler instances (each its own database connections, as two processes) race over a clock
    driven through 240 minutes of three schedules: every fire time has one execution, none is missed, and
    each was created by exactly one of them."""
    with (
        fresh_database("postgres", tmp_path) as url,
        built(url, tmp_path / "a", clock) as first,
        built(url, tmp_path / "b", clock) as second,
    ):
        sf.register_workflow(first)
        plans = {"minutely": sf.cron("* * * * *"), "fives": sf.cron("*/5 * * * *"), "rate3": sf.rate(3)}
        for name, schedule in plans.items():
            sf.register_plan(first, name, schedule)
            sf.set_active(first, name)
        anchor = clock()
        created: dict[str, list[str]] = {"a": [], "b": []}
        barrier = threading.Barrier(2)
        steps = 240

        def run(owner: str, services: Services) -> None:
            for _ in range(steps):
                barrier.wait()
                created[owner].extend(f.name for f in services.scheduler.fire_due(owner) if f.created)
                barrier.wait()
                if owner == "a":
                    clock.advance(MINUTE)

        threads = [
            threading.Thread(target=run, args=("a", first)),
            threading.Thread(target=run, args=("b", second)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        end = anchor + (steps - 1) * MINUTE
        expected = set()
        for name, schedule in plans.items():
            parsed = schedules.parse(schedule, name)
            assert parsed is not None
            expected |= {_name(name, t) for t in parsed.between(anchor, end, anchor)}
        made = created["a"] + created["b"]
        assert len(made) == len(set(made)), "no time was created twice"
        assert set(made) == expected, "no time was missed"
        assert created["a"] and created["b"], "both schedulers fired some"
        assert sorted(sf.execution_names(first)) == sorted(expected)
        with first.context.db.session() as session:
            count = session.scalar(select(func.count()).select_from(models.Execution))
        assert count == len(expected) == 239 + 48 + 79
