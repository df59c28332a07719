"""Parking: an execution waiting on an approval, a signal or a sleep holds no engine worker's slot, so one
worker with two slots serves many waiting executions and still runs new ones; they resume when the signal is
set or the timer is due, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from typing import Any

import registry_flows
import signal_flows
from execution_support import DOMAIN, PROJECT, launch, literal, outputs, running_admin, wait, wait_until
from flyteidl.admin import execution_pb2, signal_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2

from roost_admin.db import models

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
