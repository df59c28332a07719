"""SignalService: signals created by gates or clients, listed, set once with a value of the right type, and an
approve gate resumed by SetSignal."""

from __future__ import annotations

import grpc
from execution_support import (
    DOMAIN,
    PROJECT,
    fails,
    launch,
    literal,
    outputs,
    register_flows,
    running_admin,
    wait,
    wait_until,
)
from flyteidl.admin import execution_pb2, signal_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, types_pb2

Phase = core_execution_pb2.WorkflowExecution
INTEGER = types_pb2.LiteralType(simple=types_pb2.INTEGER)


def signal_id(ident, name: str) -> identifier_pb2.SignalIdentifier:
    return identifier_pb2.SignalIdentifier(signal_id=name, execution_id=ident)


def waiting(signals, ident) -> list[signal_pb2.Signal]:
    return list(
        signals.ListSignals(signal_pb2.SignalListRequest(workflow_execution_id=ident, limit=10)).signals
    )


def test_signals_are_created_listed_and_set_once(app, admin, signals):
    register_flows(admin)
    ident = launch(admin, "one", name="signalled", x=1)
    text = f"signal 'count' of execution {PROJECT}/{DOMAIN}/signalled"
    error = fails(
        signals.SetSignal, signal_pb2.SignalSetRequest(id=signal_id(ident, "count"), value=literal(3))
    )
    assert (error.code(), error.details()) == (
        grpc.StatusCode.NOT_FOUND,
        f"{text} does not exist (nothing waits for it yet)",
    )
    created = signals.GetOrCreateSignal(
        signal_pb2.SignalGetOrCreateRequest(id=signal_id(ident, "count"), type=INTEGER)
    )
    assert created.type == INTEGER and not created.HasField("value")
    again = signals.GetOrCreateSignal(
        signal_pb2.SignalGetOrCreateRequest(
            id=signal_id(ident, "count"), type=types_pb2.LiteralType(simple=types_pb2.STRING)
        )
    )
    assert again.type == INTEGER
    error = fails(
        signals.SetSignal, signal_pb2.SignalSetRequest(id=signal_id(ident, "count"), value=literal("three"))
    )
    assert (error.code(), error.details()) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        f"{text} expects int but got str",
    )
    signals.SetSignal(signal_pb2.SignalSetRequest(id=signal_id(ident, "count"), value=literal(3)))
    signals.SetSignal(signal_pb2.SignalSetRequest(id=signal_id(ident, "count"), value=literal(3)))  # a retry
    error = fails(
        signals.SetSignal, signal_pb2.SignalSetRequest(id=signal_id(ident, "count"), value=literal(4))
    )
    assert (error.code(), error.details()) == (grpc.StatusCode.ALREADY_EXISTS, f"{text} was already set")
    (listed,) = waiting(signals, ident)
    assert listed.id == signal_id(ident, "count") and listed.value == literal(3)
    error = fails(
        signals.GetOrCreateSignal, signal_pb2.SignalGetOrCreateRequest(id=signal_id(ident, "count"))
    )
    assert (error.code(), error.details()) == (grpc.StatusCode.INVALID_ARGUMENT, "type is required")
    error = fails(signals.SetSignal, signal_pb2.SignalSetRequest(id=signal_id(ident, "")))
    assert (error.code(), error.details()) == (grpc.StatusCode.INVALID_ARGUMENT, "id.signal_id is required")
    nobody = identifier_pb2.WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name="nobody")
    error = fails(
        signals.GetOrCreateSignal,
        signal_pb2.SignalGetOrCreateRequest(id=signal_id(nobody, "x"), type=INTEGER),
    )
    assert (error.code(), error.details()) == (
        grpc.StatusCode.NOT_FOUND,
        f"execution {PROJECT}/{DOMAIN}/nobody does not exist",
    )


def test_an_approve_gate_waits_until_set_signal_approves(tmp_path, database_url):
    with running_admin(tmp_path, database_url) as (_, admin, signals):
        ident = launch(admin, "gated", x=4)
        (gate,) = wait_until(lambda: waiting(signals, ident), what="the gate's signal")
        assert gate.id.signal_id == "ok"
        assert gate.type == types_pb2.LiteralType(simple=types_pb2.BOOLEAN)
        current = admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=ident))
        assert current.closure.phase == Phase.RUNNING
        signals.SetSignal(signal_pb2.SignalSetRequest(id=gate.id, value=literal(True)))
        assert wait(admin, ident).closure.phase == Phase.SUCCEEDED
        assert outputs(admin, ident) == {"o0": 10}


def test_a_rejected_approval_fails_the_execution(tmp_path, database_url):
    with running_admin(tmp_path, database_url) as (_, admin, signals):
        ident = launch(admin, "gated", x=4)
        (gate,) = wait_until(lambda: waiting(signals, ident), what="the gate's signal")
        signals.SetSignal(signal_pb2.SignalSetRequest(id=gate.id, value=literal(False)))
        execution = wait(admin, ident)
        assert execution.closure.phase == Phase.FAILED
        assert "approval 'ok' was rejected" in execution.closure.error.message
