"""Parking: an execution waiting on an approval, a signal, a sleep or a remote job holds no engine worker's slot,
so one worker with two slots serves many waiting executions and still runs new ones; they resume when the
signal is set, the timer is due or the job's status changes, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from typing import Any

import registry_flows
import remote_job_flows
import signal_flows
from execution_support import (
    DOMAIN,
    PROJECT,
    engine_section,
    launch,
    literal,
    outputs,
    running_admin,
    wait,
    wait_until,
)
from flyteidl.admin import execution_pb2, signal_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2

from roost_admin.db import models
from roost_core.plugins import EnginePlugins

Phase = core_execution_pb2.WorkflowExecution
WAITING = int(os.environ.get("ROOST_PARKED_EXECUTIONS", "6"))
"""Executions parked on approval at once: three times the worker's slots (``ROOST_PARKED_EXECUTIONS=1000``
for the issue's scale, opt-in: each runs two task processes)."""


def _gates(signals: Any, ident: Any) -> list[signal_pb2.Signal]:
    listed = signals.ListSignals(signal_pb2.SignalListRequest(workflow_execution_id=ident, limit=10))
    return list(listed.signals)


def _claims(app: Any, names: list[str]) -> dict[str, str]:
    with app.db.session() as session:
        rows = session.query(models.Execution).filter(models.Execution.name.in_(names)).all()
        return {row.name: row.claimed_by for row in rows}


def test_executions_parked_on_approval_leave_the_slots_to_new_executions(tmp_path, database_url):
    with running_admin(tmp_path, database_url, workers=1, executions_per_worker=2) as (app, admin, signals):
        gated = [launch(admin, "gated", x=i) for i in range(WAITING)]
        # Every one reaches its gate although the only worker holds two at a time: each let go of its slot.
        for ident in gated:
            wait_until(
                lambda ident=ident: _gates(signals, ident), timeout=60, what=f"the gate of {ident.name}"
            )
        names = [ident.name for ident in gated]
        wait_until(
            lambda: set(_claims(app, names).values()) == {""},
            timeout=30,
            what="every waiting execution parked",
        )
        fresh = launch(admin, "one", x=1)
        assert wait(admin, fresh).closure.phase == Phase.SUCCEEDED
        assert outputs(admin, fresh) == {"o0": 2}
        for ident in gated:
            (gate,) = _gates(signals, ident)
            signals.SetSignal(signal_pb2.SignalSetRequest(id=gate.id, value=literal(True)))
        for i, ident in enumerate(gated):
            assert wait(admin, ident).closure.phase == Phase.SUCCEEDED
            assert outputs(admin, ident) == {"o0": 2 * (i + 1)}


def test_a_sleeping_execution_is_parked_until_its_timer(tmp_path, database_url):
    with running_admin(tmp_path, database_url, workers=1, executions_per_worker=1) as (app, admin, _signals):
        registry_flows.register(admin, registry_flows.serialize(signal_flows.naps))
        plan = identifier_pb2.Identifier(
            resource_type=identifier_pb2.LAUNCH_PLAN,
            project=PROJECT,
            domain=DOMAIN,
            name="signal_flows.naps",
            version="v1",
        )
        ident = admin.CreateExecution(
            execution_pb2.ExecutionCreateRequest(
                project=PROJECT,
                domain=DOMAIN,
                spec=execution_pb2.ExecutionSpec(launch_plan=plan),
                inputs=literals_pb2.LiteralMap(literals={"x": literal(5)}),
            )
        ).id
        wait_until(
            lambda: (
                admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=ident)).closure.phase
                == Phase.RUNNING
            ),
            what="the execution running",
        )

        def parked_with_timer() -> bool:
            with app.db.session() as session:
                row = session.query(models.Execution).filter_by(name=ident.name).one()
                return row.claimed_by == "" and row.wake_at is not None and row.phase == Phase.RUNNING

        wait_until(parked_with_timer, what="the sleeping execution parked with its timer")
        # The only slot is free: another execution runs meanwhile.
        fresh = launch(admin, "one", x=1)
        assert wait(admin, fresh).closure.phase == Phase.SUCCEEDED
        assert wait(admin, ident).closure.phase == Phase.SUCCEEDED
        assert outputs(admin, ident) == {"o0": 5}


def test_executions_waiting_on_remote_jobs_are_parked_between_polls(tmp_path, database_url):
    service = remote_job_flows.SlowService(polls=3)
    plugins = EnginePlugins([remote_job_flows.SlowJobHooks(service)])
    # Each parked execution is claimed again at every poll; at the opt-in scale the polls are spaced out so
    # the one worker keeps up (the default is 30 s).
    resync = max(0.2, WAITING / 20)
    engine = engine_section(handlers={"local-process": {}, "slow-job": {"resync_interval": resync}})
    patience = 60 + WAITING / 2
    with running_admin(
        tmp_path, database_url, workers=1, executions_per_worker=2, plugins=plugins, engine=engine
    ) as (app, admin, _signals):
        registry_flows.register(admin, registry_flows.serialize(remote_job_flows.waits_on_job))
        waiting = [_launch_remote_job(admin, x=i + 1) for i in range(WAITING)]
        names = [ident.name for ident in waiting]
        # Each submitted its job although the only worker holds two executions at a time, and each waits
        # parked, with its next poll as its timer.
        wait_until(lambda: len(service.submissions) == WAITING, timeout=patience, what="every job submitted")
        wait_until(
            lambda: all(row.claimed_by == "" and row.wake_at is not None for row in _rows(app, names)),
            timeout=patience,
            what="every execution waiting on its job parked",
        )
        fresh = launch(admin, "one", x=1)
        assert wait(admin, fresh, timeout=patience).closure.phase == Phase.SUCCEEDED
        assert outputs(admin, fresh) == {"o0": 2}
        assert all(row.phase == Phase.RUNNING for row in _rows(app, names))
        service.release()
        for i, ident in enumerate(waiting):
            assert wait(admin, ident, timeout=patience).closure.phase == Phase.SUCCEEDED
            assert outputs(admin, ident) == {"o0": 10 * (i + 1)}
        # Claimed again and polled after parking, never submitted again.
        assert sorted(service.submissions.values()) == [1] * WAITING


def _launch_remote_job(admin: Any, x: int) -> identifier_pb2.WorkflowExecutionIdentifier:
    plan = identifier_pb2.Identifier(
        resource_type=identifier_pb2.LAUNCH_PLAN,
        project=PROJECT,
        domain=DOMAIN,
        name="remote_job_flows.waits_on_job",
        version="v1",
    )
    return admin.CreateExecution(
        execution_pb2.ExecutionCreateRequest(
            project=PROJECT,
            domain=DOMAIN,
            spec=execution_pb2.ExecutionSpec(launch_plan=plan),
            inputs=literals_pb2.LiteralMap(literals={"x": literal(x)}),
        )
    ).id


def _rows(app: Any, names: list[str]) -> list[models.Execution]:
    with app.db.session() as session:
        return session.query(models.Execution).filter(models.Execution.name.in_(names)).all()


def test_a_parked_execution_is_woken_by_its_remote_jobs_status_change(tmp_path, database_url):
    service = remote_job_flows.SlowService(polls=1)
    service.release()
    plugins = EnginePlugins([remote_job_flows.SlowJobHooks(service)])
    # The next poll is an hour away: only the status cache's wake-up, through the database, brings the
    # parked execution back when its job is done.
    engine = engine_section(handlers={"local-process": {}, "slow-job": {"resync_interval": 3600}})
    with running_admin(
        tmp_path, database_url, workers=1, executions_per_worker=1, plugins=plugins, engine=engine
    ) as (_app, admin, _signals):
        registry_flows.register(admin, registry_flows.serialize(remote_job_flows.waits_on_job))
        ident = _launch_remote_job(admin, x=4)
        assert wait(admin, ident).closure.phase == Phase.SUCCEEDED
        assert outputs(admin, ident) == {"o0": 40}
        assert list(service.submissions.values()) == [1]
