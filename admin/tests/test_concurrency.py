"""A launch plan's concurrency policy: flyteadmin's SKIP (ALREADY_EXISTS, nothing created) and Roost's
``roost/concurrency-behavior: wait`` (the excess waits, held, and starts when an active execution ends), on
SQLite and PostgreSQL with engine workers; policies that cannot work are refused at registration."""

from __future__ import annotations

from typing import Any

import execution_flows
import grpc
import pytest
import registry_flows
from execution_support import (
    DOMAIN,
    PROJECT,
    create_request,
    fails,
    launch,
    literal,
    register_flows,
    running_admin,
    wait,
    wait_until,
)
from flyteidl.admin import execution_pb2, launch_plan_pb2, signal_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2

from roost_admin.db import models

Phase = core_execution_pb2.WorkflowExecution


def _register(admin: Any, name: str, limit: int, behavior: str = "", skip: bool = True) -> None:
    """A launch plan ``execution_flows.<name>`` of the gated workflow with a concurrency policy."""
    plan = launch_plan_pb2.LaunchPlan()
    plan.CopyFrom(registry_flows.serialize(execution_flows.gated).launch_plans["execution_flows.gated"])
    plan.id.name = f"execution_flows.{name}"
    plan.spec.concurrency_policy.max = limit
    if skip:
        plan.spec.concurrency_policy.behavior = launch_plan_pb2.CONCURRENCY_LIMIT_BEHAVIOR_SKIP
    if behavior:
        plan.spec.annotations.values["roost/concurrency-behavior"] = behavior
    admin.CreateLaunchPlan(registry_flows.launch_plan_request(plan))


def _gates(signals: Any, ident: Any) -> list[signal_pb2.Signal]:
    listed = signals.ListSignals(signal_pb2.SignalListRequest(workflow_execution_id=ident, limit=10))
    return list(listed.signals)


def _approve(signals: Any, ident: Any) -> None:
    (gate,) = wait_until(lambda: _gates(signals, ident), what=f"the gate of {ident.name}")
    signals.SetSignal(signal_pb2.SignalSetRequest(id=gate.id, value=literal(True)))


def _held(app: Any, name: str) -> tuple[int, Any, str]:
    """The execution row's held limit, wake-up time and claim."""
    with app.db.session() as session:
        row = session.query(models.Execution).filter_by(name=name).one()
        return row.held_limit, row.wake_at, row.claimed_by


def _phase(admin: Any, ident: Any) -> int:
    return admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=ident)).closure.phase


def test_skip_refuses_executions_beyond_the_limit_until_one_ends(tmp_path, database_url):
    with running_admin(tmp_path, database_url) as (_, admin, signals):
        _register(admin, "gated_once", 1)
        first = launch(admin, "gated_once", x=1)
        error = fails(admin.CreateExecution, _request("gated_once", "second"))
        assert (error.code(), error.details()) == (
            grpc.StatusCode.ALREADY_EXISTS,
            "concurrency limit (1) reached for launch plan execution_flows.gated_once; skipping execution",
        )
        assert (
            fails(
                admin.GetExecution,
                execution_pb2.WorkflowExecutionGetRequest(
                    id={"project": PROJECT, "domain": DOMAIN, "name": "second"}
                ),
            ).code()
            == grpc.StatusCode.NOT_FOUND
        ), "nothing was created"
        _approve(signals, first)
        assert wait(admin, first).closure.phase == Phase.SUCCEEDED
        third = admin.CreateExecution(_request("gated_once", "third")).id
        _approve(signals, third)
        assert wait(admin, third).closure.phase == Phase.SUCCEEDED


def test_wait_holds_the_excess_until_an_active_execution_ends(tmp_path, database_url):
    with running_admin(tmp_path, database_url) as (app, admin, signals):
        _register(admin, "gated_wait", 1, behavior="wait")
        first = launch(admin, "gated_wait", x=1)
        second = launch(admin, "gated_wait", x=2)
        wait_until(lambda: _gates(signals, first), what="the first execution's gate")
        # The first waits at its gate; the second is held: queued, unclaimable, no gate of its own.
        assert _phase(admin, second) == Phase.QUEUED
        assert _held(app, second.name) == (1, None, "")
        assert not _gates(signals, second)
        _approve(signals, first)
        assert wait(admin, first).closure.phase == Phase.SUCCEEDED
        _approve(signals, second)
        assert wait(admin, second).closure.phase == Phase.SUCCEEDED


def test_a_terminated_held_execution_ends_without_starting(tmp_path, database_url):
    with running_admin(tmp_path, database_url) as (_, admin, signals):
        _register(admin, "gated_wait", 1, behavior="wait")
        first = launch(admin, "gated_wait", x=1)
        second = launch(admin, "gated_wait", x=2)
        admin.TerminateExecution(execution_pb2.ExecutionTerminateRequest(id=second, cause="not needed"))
        assert wait(admin, second).closure.phase == Phase.ABORTED
        assert not _gates(signals, second)
        _approve(signals, first)
        assert wait(admin, first).closure.phase == Phase.SUCCEEDED


def _request(lp: str, name: str) -> execution_pb2.ExecutionCreateRequest:
    return create_request(name, lp, x=1)


@pytest.mark.parametrize(
    ("limit", "behavior", "skip", "message"),
    [
        (0, "", True, "spec.concurrency_policy.max must be at least 1, not 0"),
        (
            2,
            "later",
            True,
            "spec.annotations['roost/concurrency-behavior'] 'later' is neither 'wait' nor 'skip'",
        ),
    ],
)
def test_a_policy_that_cannot_work_is_refused_at_registration(app, admin, limit, behavior, skip, message):
    register_flows(admin)
    error = fails(lambda _: _register(admin, "bad", limit, behavior, skip), None)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == f"launch plan '{PROJECT}/{DOMAIN}/execution_flows.bad@v1': {message}"
