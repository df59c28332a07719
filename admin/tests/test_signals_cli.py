"""`roost get signals`, `roost approve` and `roost signal set` against an admin with engine workers: values
typed from the signal's type, wrong-typed values and unknown gates or signals refused with clear messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import registry_flows
import signal_flows
from click.testing import CliRunner
from execution_support import PROJECT, launch, outputs, running_admin, wait, wait_until
from flyteidl.admin import execution_pb2, signal_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2

from roost.cli import main

Phase = core_execution_pb2.WorkflowExecution


def roost(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ROOST_INSECURE", "true")
    monkeypatch.setenv("ROOST_PROJECT", PROJECT)
    monkeypatch.setenv("ROOST_CLIENT_CONFIG", str(tmp_path / "client" / "config.yaml"))
    return tmp_path


def _waiting(signals: Any, ident: Any) -> list[signal_pb2.Signal]:
    listed = signals.ListSignals(signal_pb2.SignalListRequest(workflow_execution_id=ident, limit=10))
    return [s for s in listed.signals if not s.HasField("value")]


def test_approve_and_reject_gates_by_node_or_signal_name(tmp_path, database_url, cli_env, monkeypatch):
    with running_admin(tmp_path, database_url) as (app, admin, signals):
        monkeypatch.setenv("ROOST_ENDPOINT", f"127.0.0.1:{app.grpc_port}")
        first = launch(admin, "gated", x=4)
        wait_until(lambda: _waiting(signals, first), what="the gate's signal")
        code, output = roost("get", "signals", first.name, "-o", "json")
        assert code == 0, output
        assert json.loads(output) == [{"signal": "ok", "type": "bool", "value": ""}]

        code, output = roost("approve", first.name, "nope")
        assert code == 1
        assert (
            f"execution {PROJECT}/development/{first.name} has no approval gate 'nope'; its gates: " in output
        )
        node = output.rsplit("its gates: ", 1)[1].split()[0]
        code, output = roost("approve", first.name, node)
        assert (code, output) == (0, f"approved {node} of {PROJECT}/development/{first.name}\n")
        assert wait(admin, first).closure.phase == Phase.SUCCEEDED
        code, output = roost("get", "signals", first.name, "-o", "json")
        assert json.loads(output) == [{"signal": "ok", "type": "bool", "value": "True"}]

        second = launch(admin, "gated", x=4)
        wait_until(lambda: _waiting(signals, second), what="the gate's signal")
        code, output = roost("approve", second.name, "ok", "--reject")
        assert (code, output) == (0, f"rejected ok of {PROJECT}/development/{second.name}\n")
        assert wait(admin, second).closure.phase == Phase.FAILED


def test_signal_set_parses_the_value_by_the_signals_type(tmp_path, database_url, cli_env, monkeypatch):
    with running_admin(tmp_path, database_url) as (app, admin, signals):
        monkeypatch.setenv("ROOST_ENDPOINT", f"127.0.0.1:{app.grpc_port}")
        registry_flows.register(admin, registry_flows.serialize(signal_flows.asks))
        plan = identifier_pb2.Identifier(
            resource_type=identifier_pb2.LAUNCH_PLAN,
            project=PROJECT,
            domain="development",
            name="signal_flows.asks",
            version="v1",
        )
        ident = admin.CreateExecution(
            execution_pb2.ExecutionCreateRequest(
                project=PROJECT,
                domain="development",
                spec=execution_pb2.ExecutionSpec(launch_plan=plan),
                inputs=literals_pb2.LiteralMap(
                    literals={"x": literals_pb2.Literal(scalar={"primitive": {"integer": 7}})}
                ),
            )
        ).id
        wait_until(lambda: _waiting(signals, ident), what="the signal")
        code, output = roost("signal", "set", ident.name, "factor", "three")
        assert code == 1
        assert (
            "Error: signal 'factor' expects int, got 'three': invalid literal for int() with base 10: 'three'"
            in output
        )
        code, output = roost("signal", "set", ident.name, "fact", "3")
        assert code == 1
        assert (
            f"execution {PROJECT}/development/{ident.name} has no signal 'fact'; its signals: factor"
            in output
        )
        assert _waiting(signals, ident), "nothing was set"

        code, output = roost("signal", "set", ident.name, "factor", "3")
        assert (code, output) == (0, f"set factor of {PROJECT}/development/{ident.name}\n")
        assert wait(admin, ident).closure.phase == Phase.SUCCEEDED
        assert outputs(admin, ident) == {"o0": 21}
