"""How return annotations become outputs, as flytekit reads them: ``-> (A, B)`` is two outputs, a one-field
NamedTuple takes a bare value, a workflow may return a call without outputs, and promises answer hasattr()."""

from __future__ import annotations

import dataclasses
import textwrap
from typing import NamedTuple

import pytest
from flyteidl.core import types_pb2

from roost import task, workflow
from roost.errors import WorkflowDefinitionError
from roost.loader import load_file


@task
def pair(x: int) -> (int, str):  # flytekit's tuple-literal form
    return x + 1, f"#{x}"


@workflow
def pair_wf(x: int = 1) -> (int, str):
    number, text = pair(x=x)
    return number, text


def test_a_tuple_of_types_declares_one_output_per_type():
    assert list(pair.interface.outputs) == ["o0", "o1"]
    typed = pair.interface.typed().outputs.variables
    assert typed["o0"].type.simple == types_pb2.INTEGER
    assert typed["o1"].type.simple == types_pb2.STRING
    assert pair(x=2) == (3, "#2")
    assert pair_wf(x=4) == (5, "#4")


def test_a_tuple_annotation_works_with_postponed_annotations(tmp_path):
    module = tmp_path / "postponed_pairs.py"
    module.write_text(
        textwrap.dedent(
            """
            from __future__ import annotations

            from roost import task, workflow

            @task
            def pair(x: int) -> (int, list[str]):
                return x, [str(x)]

            @workflow
            def wf(x: int = 2) -> (int, list[str]):
                a, b = pair(x=x)
                return a, b
            """
        )
    )
    loaded = load_file(module)
    assert loaded.pair.interface.outputs == {"o0": int, "o1": list[str]}
    assert loaded.wf(x=7) == (7, ["7"])


def test_a_tuple_of_one_type_is_refused_naming_the_task():
    with pytest.raises(WorkflowDefinitionError, match=r"task 'single': the return annotation .* tuple of 1"):

        @task
        def single(x: int) -> (int,):
            return x


@dataclasses.dataclass
class Point:
    x: int
    y: int


@task
def origin() -> Point:
    return Point(0, 0)


def test_hasattr_on_a_promise_is_false_for_what_it_lacks():
    seen: dict[str, bool] = {}

    @workflow
    def probe() -> int:
        number, _ = pair(x=1)
        point = origin()
        seen["number.anything"] = hasattr(number, "anything")
        seen["point.x"] = hasattr(point, "x")
        seen["point.z"] = hasattr(point, "z")
        with pytest.raises(
            WorkflowDefinitionError, match=r"'origin.o0' of type Point has no attribute .*'z'"
        ):
            _ = point.z
        return number

    probe.compile()
    assert seen == {"number.anything": False, "point.x": True, "point.z": False}


class Total(NamedTuple):
    total: int


@task
def bare_total(x: int) -> Total:
    return x * 2  # the bare value of the one field


@task
def tuple_total(x: int) -> Total:
    return Total(x * 3)


@workflow
def totals(x: int = 2) -> Total:
    return bare_total(x=tuple_total(x=x).total)


def test_a_one_field_named_tuple_accepts_the_bare_value():
    assert bare_total(x=2) == Total(4)
    assert tuple_total(x=2) == Total(6)
    assert totals(x=2) == Total(12)
    assert list(totals.interface.outputs) == ["total"]


calls: list[int] = []


@task
def record(x: int) -> None:
    calls.append(x)


@workflow
def returns_a_call_without_outputs(x: int = 5) -> None:
    return record(x=x)


def test_a_workflow_may_return_a_call_without_outputs():
    calls.clear()
    assert returns_a_call_without_outputs(x=5) is None
    assert calls == [5]


def test_returning_a_call_without_outputs_where_outputs_are_declared_is_named():
    @workflow
    def wants_int(x: int = 1) -> int:
        return record(x=x)

    with pytest.raises(WorkflowDefinitionError, match="workflow 'wants_int' output 'o0' got node 'n0'"):
        wants_int.compile()
