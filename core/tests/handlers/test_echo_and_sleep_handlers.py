"""The echo and sleep handlers, and the registration of every built-in handler."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest
from flyteidl.core import interface_pb2, literals_pb2, types_pb2
from google.protobuf import duration_pb2

from roost_core.errors import ErrorKind
from roost_core.handler import TaskPhase
from roost_core.handlers.echo import EchoHandler
from roost_core.handlers.local_process import LocalProcessHandler
from roost_core.handlers.sleep import SleepHandler
from roost_core.plugins import EnginePlugins
from roost_core.testing.tasks import integer, interface, task_context, task_template, text


def duration_literal(seconds: int, nanos: int = 0) -> literals_pb2.Literal:
    return literals_pb2.Literal(
        scalar=literals_pb2.Scalar(
            primitive=literals_pb2.Primitive(duration=duration_pb2.Duration(seconds=seconds, nanos=nanos))
        )
    )


def duration_interface() -> interface_pb2.TypedInterface:
    typed = interface(inputs=["x"], outputs=["x"])
    typed.inputs.variables["duration"].type.CopyFrom(
        types_pb2.LiteralType(simple=types_pb2.SimpleType.DURATION)
    )
    return typed


def read_outputs(ctx: object) -> literals_pb2.LiteralMap:
    return ctx.storage.read_proto(ctx.outputs_uri, literals_pb2.LiteralMap)  # type: ignore[attr-defined]


class TestEcho:
    def test_outputs_are_the_inputs_in_one_round(self, tmp_path: Path) -> None:
        inputs = literals_pb2.LiteralMap(literals={"a": integer(1), "s": text("hi")})
        task = task_template("echo", typed_interface=interface(inputs=["a", "s"], outputs=["s", "a"]))
        ctx = task_context(tmp_path, task, inputs=inputs)
        transition = EchoHandler().handle(ctx)
        assert transition.phase is TaskPhase.SUCCESS
        assert read_outputs(ctx) == inputs

    def test_one_input_lands_on_the_one_output_as_flytes_echo_plugin_does(self, tmp_path: Path) -> None:
        # flytekit's Echo(name, inputs={"a": int}) declares the output o0.
        task = task_template("echo", typed_interface=interface(inputs=["a"], outputs=["o0"]))
        ctx = task_context(tmp_path, task, inputs=literals_pb2.LiteralMap(literals={"a": integer(7)}))
        assert EchoHandler().handle(ctx).phase is TaskPhase.SUCCESS
        assert read_outputs(ctx) == literals_pb2.LiteralMap(literals={"o0": integer(7)})

    @pytest.mark.parametrize(
        ("inputs", "outputs", "message"),
        [
            (
                ["a"],
                ["o0", "o1"],
                "echo task 'tests.my_task' declares 1 input(s) but 2 output(s) (inputs: a; outputs: o0, o1); "
                "it copies each input to one output",
            ),
            (
                ["a", "b"],
                ["o0", "o1"],
                "echo task 'tests.my_task' has outputs named unlike its inputs (inputs: a, b; outputs: o0, o1); "
                "with more than one input the output names must be the input names",
            ),
        ],
    )
    def test_an_interface_it_cannot_echo_fails_for_good_naming_the_task(
        self, tmp_path: Path, inputs: list[str], outputs: list[str], message: str
    ) -> None:
        task = task_template("echo", typed_interface=interface(inputs=inputs, outputs=outputs))
        values = literals_pb2.LiteralMap(literals={name: integer(1) for name in inputs})
        transition = EchoHandler().handle(task_context(tmp_path, task, inputs=values))
        assert transition.phase is TaskPhase.PERMANENT_FAILURE
        assert transition.error is not None
        assert (transition.error.kind, transition.error.message) == (ErrorKind.USER, message)

    def test_handling_again_is_harmless(self, tmp_path: Path) -> None:
        inputs = literals_pb2.LiteralMap(literals={"a": integer(1)})
        task = task_template("echo", typed_interface=interface(inputs=["a"], outputs=["a"]))
        ctx = task_context(tmp_path, task, inputs=inputs)
        handler = EchoHandler()
        handler.handle(ctx)
        assert handler.handle(ctx).phase is TaskPhase.SUCCESS
        assert read_outputs(ctx) == inputs


class TestSleep:
    def test_zero_duration_succeeds_at_once_without_the_duration(self, tmp_path: Path) -> None:
        inputs = literals_pb2.LiteralMap(literals={"x": integer(5), "duration": duration_literal(0)})
        task = task_template("sleep", typed_interface=duration_interface())
        ctx = task_context(tmp_path, task, inputs=inputs)
        transition = SleepHandler().handle(ctx)
        assert transition.phase is TaskPhase.SUCCESS
        assert read_outputs(ctx) == literals_pb2.LiteralMap(literals={"x": integer(5)})

    def test_waits_without_blocking_and_survives_a_restart(self, tmp_path: Path) -> None:
        inputs = literals_pb2.LiteralMap(literals={"x": integer(5)})
        task = task_template(
            "sleep", typed_interface=interface(inputs=["x"], outputs=["x"]), custom={"duration": 3600}
        )
        ctx = task_context(tmp_path, task, inputs=inputs)
        first = SleepHandler().handle(ctx)
        assert first.phase is TaskPhase.RUNNING
        assert first.state is not None
        assert first.wake_after is not None
        assert 0 < first.wake_after <= 3600
        deadline = first.state["deadline"]

        # A new engine process: a new handler instance, given the persisted state.
        restarted = SleepHandler()
        again = restarted.handle(dataclasses.replace(ctx, state=first.state))
        assert again.phase is TaskPhase.RUNNING
        assert again.state == {"deadline": deadline}
        assert not ctx.storage.exists(ctx.outputs_uri)

        passed = restarted.handle(dataclasses.replace(ctx, state={"deadline": time.time() - 1}))
        assert passed.phase is TaskPhase.SUCCESS
        assert read_outputs(ctx) == inputs

    def test_the_duration_input_wins_over_custom(self, tmp_path: Path) -> None:
        inputs = literals_pb2.LiteralMap(literals={"x": integer(5), "duration": duration_literal(0)})
        task = task_template("sleep", typed_interface=duration_interface(), custom={"duration": 3600})
        ctx = task_context(tmp_path, task, inputs=inputs)
        assert SleepHandler().handle(ctx).phase is TaskPhase.SUCCESS

    def test_duration_input_with_nanos(self, tmp_path: Path) -> None:
        inputs = literals_pb2.LiteralMap(literals={"x": integer(5), "duration": duration_literal(7200, 500)})
        task = task_template("sleep", typed_interface=duration_interface())
        transition = SleepHandler().handle(task_context(tmp_path, task, inputs=inputs))
        assert transition.phase is TaskPhase.RUNNING
        assert transition.wake_after is not None
        assert 3600 < transition.wake_after <= 7200.0000005

    @pytest.mark.parametrize(
        ("custom", "inputs", "message"),
        [
            (
                None,
                None,
                "sleep task 'tests.my_task' has no duration: declare an input 'duration' (Duration) or "
                "set custom field 'duration' (seconds)",
            ),
            (
                {"duration": "ten"},
                None,
                "sleep task 'tests.my_task': custom field 'duration' must be a number of seconds, got "
                "string_value",
            ),
            (
                {"duration": -1},
                None,
                "sleep task 'tests.my_task': custom field 'duration' must be a duration of 0 or more, "
                "got -1.0",
            ),
            (
                None,
                {"duration": integer(3)},
                "sleep task 'tests.my_task': input 'duration' must hold a Duration literal",
            ),
            (
                None,
                {"duration": duration_literal(-5)},
                "sleep task 'tests.my_task': input 'duration' must be a duration of 0 or more, got -5.0",
            ),
        ],
    )
    def test_a_missing_or_bad_duration_fails_permanently(
        self,
        tmp_path: Path,
        custom: dict[str, object] | None,
        inputs: dict[str, literals_pb2.Literal] | None,
        message: str,
    ) -> None:
        typed = duration_interface() if inputs is not None else interface()
        task = task_template("sleep", typed_interface=typed, custom=custom)
        ctx = task_context(tmp_path, task, inputs=literals_pb2.LiteralMap(literals=inputs or {}))
        transition = SleepHandler().handle(ctx)
        assert transition.phase is TaskPhase.PERMANENT_FAILURE
        assert transition.error is not None
        assert transition.error.kind is ErrorKind.USER
        assert transition.error.message == message


def test_built_in_handlers_are_registered_for_their_task_types() -> None:
    selector = EnginePlugins(entry_points=False).handlers()
    assert isinstance(selector.for_task_type("echo"), EchoHandler)
    assert isinstance(selector.for_task_type("sleep"), SleepHandler)
    for task_type in ("container", "python-task", "raw-container"):
        assert isinstance(selector.for_task_type(task_type), LocalProcessHandler)
    assert isinstance(selector.by_name("local-process"), LocalProcessHandler)
