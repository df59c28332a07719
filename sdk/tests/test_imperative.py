"""flytekit's authoring helpers: the imperative Workflow builder, create_node, kwtypes, LaunchPlan.create."""

from __future__ import annotations

from collections import OrderedDict
from typing import Optional

import pytest
from test_local_runs import add, double

from roost import File, FlyteError, LaunchPlan, Workflow, create_node, kwtypes, task, workflow
from roost.errors import ExecutionFailedError, WorkflowDefinitionError
from roost.serialize import SerializationSettings, Serializer


@task
def total(values: list[int]) -> int:
    return sum(values)


calls: list[str] = []


@task
def side_effect(tag: str) -> None:
    calls.append(tag)


@task
def boom(x: int) -> int:
    raise ValueError(f"boom {x}")


@task
def handler(x: int, err: Optional[FlyteError] = None) -> None:  # noqa: UP045 - flytekit's spelling
    calls.append(f"handled {x}: {err.failed_node_id if err else None}")


def build() -> Workflow:
    wb = Workflow(name="pipeline")
    x = wb.add_workflow_input("x", int)
    first = wb.add_entity(double, x=x)
    second = wb.add_task(add, a=first.outputs["o0"], b=wb.inputs["x"])
    wb.add_workflow_output("doubled", first.outputs["o0"])
    wb.add_workflow_output("sum", second.o0)
    wb.add_workflow_output("both", [first.o0, second.o0], python_type=list[int])
    return wb


def test_an_imperative_workflow_runs_locally_and_returns_its_outputs():
    assert build()(x=3) == (6, 9, [6, 9])


def test_it_serializes_like_a_function_workflow():
    wb = build()
    template = Serializer(SerializationSettings()).workflow(wb)
    assert template.id.name == "pipeline"
    assert [n.id for n in template.nodes] == ["n0", "n1"]
    assert list(template.interface.inputs.variables) == ["x"]
    assert sorted(template.interface.outputs.variables) == ["both", "doubled", "sum"]
    assert template.nodes[1].inputs[0].binding.promise.node_id == "n0"


def test_it_is_a_sub_workflow_of_other_workflows():
    wb = build()

    @workflow
    def outer(x: int) -> int:
        _, s, _ = wb(x=x)
        return total(values=[s, x])

    assert outer(x=2) == 8


def test_its_failure_handler_is_told_the_error():
    calls.clear()
    wb = Workflow(name="fragile")
    x = wb.add_workflow_input("x", int)
    wb.add_entity(boom, x=x)
    wb.add_on_failure_handler(handler)
    with pytest.raises(ExecutionFailedError, match="boom 5"):
        wb(x=5)
    assert calls == ["handled 5: n0"]


def test_mistakes_are_named():
    wb = Workflow(name="wb")
    x = wb.add_workflow_input("x", int)
    with pytest.raises(WorkflowDefinitionError, match=r"^workflow 'wb' already has an input 'x'$"):
        wb.add_workflow_input("x", str)
    with pytest.raises(
        WorkflowDefinitionError, match=r"^workflow 'wb' has no nodes; add some with add_entity$"
    ):
        wb(x=1)
    with pytest.raises(WorkflowDefinitionError, match=r"^workflow 'wb': task 'add' input 'b' is missing$"):
        wb.add_entity(add, a=x)
    node = wb.add_entity(double, x=x)
    with pytest.raises(WorkflowDefinitionError, match=r"give python_type \(e.g. list\[int\]\)"):
        wb.add_workflow_output("o", [node.o0])
    with pytest.raises(
        AttributeError, match=r"node 'n1' \(task 'double'\) has no output 'y' \(outputs: o0\)"
    ):
        _ = node.y
    wb.add_workflow_input("unused", int)
    assert not wb.ready()
    with pytest.raises(WorkflowDefinitionError, match=r"^workflow 'wb': input\(s\) 'unused' are never used$"):
        wb(x=1, unused=2)


def test_create_node_gives_the_node_for_ordering_and_its_outputs():
    calls.clear()

    @workflow
    def wf(x: int) -> int:
        late = create_node(side_effect, tag="second")
        early = create_node(side_effect, tag="first")
        early >> late
        doubled = create_node(double, x=x)
        return doubled.o0

    assert wf(x=4) == 8
    assert calls == ["first", "second"]


def test_create_node_outside_a_workflow_is_refused():
    with pytest.raises(WorkflowDefinitionError, match=r"only used inside a workflow; call 'double' directly"):
        create_node(double, x=1)


def test_kwtypes_keeps_names_and_order():
    assert kwtypes(path=File, count=int) == OrderedDict([("path", File), ("count", int)])


def test_launch_plan_create_takes_the_name_first_and_refuses_a_repeat():
    @workflow
    def wf(x: int) -> int:
        return double(x=x)

    lp = LaunchPlan.create("imperative.lp_create", wf, fixed_inputs={"x": 5})
    assert lp.name == "imperative.lp_create" and lp.workflow is wf
    assert lp() == 10
    with pytest.raises(
        WorkflowDefinitionError, match=r"^launch plan 'imperative.lp_create' was already created"
    ):
        LaunchPlan.create("imperative.lp_create", wf)
    with pytest.raises(
        WorkflowDefinitionError, match=r"unsupported setting\(s\) security_context; supported: "
    ):
        LaunchPlan.create("imperative.other", wf, security_context=None)
