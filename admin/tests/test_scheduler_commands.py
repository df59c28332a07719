"""`roost scheduler` and `roost backfill`: two real scheduler processes on PostgreSQL firing a one-minute
schedule on the wall clock, and backfills from the command line with the scheduler's names."""

from __future__ import annotations

import datetime
import subprocess
import sys
import time
from pathlib import Path

import pytest
import registry_flows
import schedule_flows as sf
import yaml
from click.testing import CliRunner
from conftest import fresh_database
from execution_support import outputs, running_admin
from flyteidl.admin import execution_pb2, launch_plan_pb2
from flyteidl.core import identifier_pb2
from test_scheduler import FakeClock, built

from roost_admin.cli import backfill
from roost_admin.db.base import utcnow
from roost_admin.services import schedules

UTC = datetime.UTC
ROOST_ADMIN = str(Path(sys.executable).with_name("roost-admin"))


@pytest.mark.postgres
def test_two_scheduler_processes_fire_a_one_minute_schedule_once(tmp_path):
    """Real time, kept short: the next minute's time (at most a minute away) fires once between two
    `roost scheduler` processes sharing the database."""
    with fresh_database("postgres", tmp_path) as url, built(url, tmp_path / "admin", utcnow) as services:
        sf.register_workflow(services)
        sf.register_plan(services, "minutely", sf.cron("* * * * *"))
        processes = []
        for index in range(2):
            config = tmp_path / f"scheduler-{index}.yaml"
            config.write_text(
                yaml.safe_dump(
                    {
                        "data_dir": str(tmp_path / f"scheduler-{index}"),
                        "db_url": url,
                        "storage": services.context.settings.storage_prefix,
                        "scheduler": {"poll_interval": 0.2},
                    }
                )
            )
            processes.append(
                subprocess.Popen(
                    [ROOST_ADMIN, "scheduler", "--config", str(config)],
                    stdout=subprocess.DEVNULL,
                    stderr=(tmp_path / f"scheduler-{index}.log").open("w"),
                )
            )
        try:
            sf.set_active(services, "minutely")
            due = services.scheduler.next_due()
            assert due is not None and due.second == 0 and due.microsecond == 0
            deadline = due + datetime.timedelta(seconds=20)
            while not sf.execution_names(services) and utcnow() < deadline:
                time.sleep(0.2)
            time.sleep(2.0)  # long enough for a second launch, if there were one
            names = sf.execution_names(services)
            assert names == [schedules.execution_name(sf.PROJECT, sf.DOMAIN, "minutely", due)]
            ident = identifier_pb2.WorkflowExecutionIdentifier(
                project=sf.PROJECT, domain=sf.DOMAIN, name=names[0]
            )
            execution = services.executions.get_execution(execution_pb2.WorkflowExecutionGetRequest(id=ident))
            lag = execution.closure.created_at.ToDatetime(tzinfo=UTC) - due
            # Fired for its time, not a minute late; how soon after is the benchmark's to measure (bench_scheduler).
            assert datetime.timedelta(0) <= lag < datetime.timedelta(seconds=20)
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                assert process.wait(20) == 0
        logs = [(tmp_path / f"scheduler-{index}.log").read_text() for index in range(2)]
        assert sum(log.count("fired for") for log in logs) == 1, logs


def test_backfill_lists_and_launches_the_schedulers_times(tmp_path):
    clock = FakeClock(datetime.datetime(2026, 1, 10, tzinfo=UTC))
    url = f"sqlite:///{tmp_path / 'roost' / 'roost.db'}"
    (tmp_path / "roost").mkdir()
    with built(url, tmp_path / "roost", clock) as services:
        sf.register_workflow(services)
        sf.register_plan(services, "nightly", sf.cron("CRON_TZ=Europe/Paris 0 3 * * *"))
        sf.set_active(services, "nightly")
    options = ["--data-dir", str(tmp_path / "roost"), "-p", sf.PROJECT, "-d", sf.DOMAIN]
    runner = CliRunner()

    def name(day: int) -> str:
        moment = datetime.datetime(2026, 1, day, 2, tzinfo=UTC)  # 03:00 in Paris in winter
        return schedules.execution_name(sf.PROJECT, sf.DOMAIN, "nightly", moment)

    dry = runner.invoke(
        backfill, ["nightly", *options, "--from", "2026-01-01", "--to", "2026-01-03T02:00Z", "--dry-run"]
    )
    assert dry.exit_code == 0, dry.output
    assert dry.output.splitlines() == [
        "3 time(s) of launch plan flytesnacks/development/nightly@v1 from 2026-01-01T00:00:00+00:00 to "
        "2026-01-03T02:00:00+00:00:",
        f"  2026-01-01T02:00:00+00:00  {name(1)}  would launch",
        f"  2026-01-02T02:00:00+00:00  {name(2)}  would launch",
        f"  2026-01-03T02:00:00+00:00  {name(3)}  would launch",
    ]
    first = runner.invoke(
        backfill, ["flytesnacks/development/nightly", "--data-dir", str(tmp_path / "roost"), "--from",
                   "2026-01-02T00:00+00:00", "--to", "2026-01-02T23:00+00:00", "--parallel"]
    )  # fmt: skip
    assert first.exit_code == 0, first.output
    assert first.output.splitlines()[1:] == [f"  2026-01-02T02:00:00+00:00  {name(2)}  launched"]
    again = runner.invoke(
        backfill, ["nightly", *options, "--from", "2026-01-01", "--to", "2026-01-03T02:00Z", "--parallel"]
    )
    assert again.exit_code == 0, again.output
    assert again.output.splitlines()[1:] == [
        f"  2026-01-01T02:00:00+00:00  {name(1)}  launched",
        f"  2026-01-02T02:00:00+00:00  {name(2)}  exists",
        f"  2026-01-03T02:00:00+00:00  {name(3)}  launched",
    ]
    with built(url, tmp_path / "roost", clock) as services:
        assert sorted(sf.execution_names(services)) == sorted([name(1), name(2), name(3)])


def test_backfill_messages(tmp_path):
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path / "roost")]
    bad_time = runner.invoke(backfill, ["nightly", *data, "--from", "yesterday", "--to", "2026-01-01"])
    assert bad_time.exit_code == 2
    assert (
        "Invalid value for --from: 'yesterday' is not an ISO 8601 time (e.g. 2026-01-31T06:00 or "
        "2026-01-31T06:00+01:00)" in bad_time.output
    )
    missing = runner.invoke(backfill, ["nightly", *data, "--from", "2026-01-01", "--to", "2026-01-02"])
    assert missing.exit_code == 1
    assert missing.output == (
        "Error: launch plan 'flytesnacks/development/nightly' has no active version; name the version to "
        "backfill\n"
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_serial_backfill_runs_one_after_another_and_the_task_gets_the_time(tmp_path, database_url):
    with running_admin(tmp_path, database_url, workers=1, register=False) as (app, admin, _signals):
        registry_flows.register(admin, registry_flows.serialize(sf.stamped))
        admin.CreateLaunchPlan(sf.create_plan("daily", sf.cron("@daily")))
        admin.UpdateLaunchPlan(
            launch_plan_pb2.LaunchPlanUpdateRequest(id=sf.plan_id("daily"), state=launch_plan_pb2.ACTIVE)
        )
        window = ["--from", "2026-01-01", "--to", "2026-01-02"]
        where = [
            "--db",
            database_url,
            "--storage",
            app.settings.storage_prefix,
            "--data-dir",
            str(tmp_path / "cli"),
        ]
        result = CliRunner().invoke(backfill, ["daily", *where, *window])
        assert result.exit_code == 0, result.output
        days = [datetime.datetime(2026, 1, day, tzinfo=UTC) for day in (1, 2)]
        names = [schedules.execution_name(sf.PROJECT, sf.DOMAIN, "daily", day) for day in days]
        assert result.output.splitlines()[1:] == [
            f"  2026-01-01T00:00:00+00:00  {names[0]}  launched",
            "    ended SUCCEEDED",
            f"  2026-01-02T00:00:00+00:00  {names[1]}  launched",
            "    ended SUCCEEDED",
        ]
        executions = [
            admin.GetExecution(
                execution_pb2.WorkflowExecutionGetRequest(
                    id=identifier_pb2.WorkflowExecutionIdentifier(
                        project=sf.PROJECT, domain=sf.DOMAIN, name=name
                    )
                )
            )
            for name in names
        ]
        # One after another: the second was created after the first ended.
        assert executions[1].closure.created_at.ToDatetime() >= executions[0].closure.updated_at.ToDatetime()
        for execution, day in zip(executions, days, strict=True):
            stamped = outputs(admin, execution.id)["o0"]
            assert datetime.datetime.fromisoformat(stamped.split("@", 1)[1]).replace(tzinfo=UTC) == day
