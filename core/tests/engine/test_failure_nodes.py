"""Failure nodes of workflows and sub-workflows, and the error their ``err`` input receives."""

from __future__ import annotations

from flyte import (
    INT,
    compile_,
    const,
    integer,
    literal_map,
    subworkflow_node,
    task,
    task_node,
    wf_input,
    workflow,
)
from flyteidl.core import literals_pb2, types_pb2

from roost_core.engine import NodePhase, WorkflowPhase

ERROR = types_pb2.LiteralType(simple=types_pb2.ERROR, structure=types_pb2.TypeStructure(tag="FlyteError"))
NONE = types_pb2.LiteralType(simple=types_pb2.NONE, structure=types_pb2.TypeStructure(tag="none"))
OPTIONAL_ERROR = types_pb2.LiteralType(union_type=types_pb2.UnionType(variants=[ERROR, NONE]))
NONE_LITERAL = literals_pb2.Literal(scalar=literals_pb2.Scalar(none_type=literals_pb2.Void()))

FLAKY = task("flaky_t", "flaky", {"x": INT}, custom={"user": 10})
ECHO = task("echo_t", "echo", {"x": INT})
REPORT = task("report_t", "echo", {"x": INT, "err": OPTIONAL_ERROR})
BROKEN_REPORT = task("broken_report_t", "flaky", {"x": INT, "err": OPTIONAL_ERROR}, custom={"user": 10})


def handler_node(t=REPORT):
    return task_node("fn0", t, {"x": wf_input("x"), "err": const(NONE_LITERAL)})


def received_error(kit, run, uid):
    state = run.state.nodes[uid]
    inputs = kit.engine.storage.read_proto(state.inputs_uri, literals_pb2.LiteralMap)
    err = inputs.literals["err"].scalar.union
    assert err.type.simple == types_pb2.ERROR and err.type.structure.tag == "FlyteError"
    return err.value.scalar.error


def test_the_failure_node_receives_the_failed_node_and_its_message(kit):
    wf = workflow(
        "wf", [task_node("bad", FLAKY, {"x": wf_input("x")})], {"x": INT}, failure_node=handler_node()
    )
    run = kit.run(compile_(wf, [FLAKY, REPORT]), literal_map(x=integer(3)))
    assert run.state.phase is WorkflowPhase.FAILED
    assert run.state.nodes["fn0"].phase is NodePhase.SUCCEEDED
    error = received_error(kit, run, "fn0")
    assert error.failed_node_id == "bad"
    assert error.message == "node 'bad': user failure 0"
    assert run.state.error.message == "node 'bad': user failure 0"


def test_a_failure_node_that_fails_masks_the_original_error(kit):
    wf = workflow(
        "wf",
        [task_node("bad", FLAKY, {"x": wf_input("x")})],
        {"x": INT},
        failure_node=handler_node(BROKEN_REPORT),
    )
    run = kit.run(compile_(wf, [FLAKY, BROKEN_REPORT]), literal_map(x=integer(3)))
    assert run.state.phase is WorkflowPhase.FAILED
    assert run.state.nodes["fn0"].phase is NodePhase.FAILED
    assert run.state.error.message == "node 'fn0': user failure 0"


def test_a_sub_workflows_failure_node_runs_when_it_fails(kit):
    inner = workflow(
        "inner", [task_node("bad", FLAKY, {"x": wf_input("x")})], {"x": INT}, failure_node=handler_node()
    )
    outer_handler = task_node("fn0", ECHO, {"x": wf_input("x")})
    outer = workflow(
        "outer",
        [
            subworkflow_node("sub", inner, {"x": wf_input("x")}),
            task_node("after", ECHO, {"x": wf_input("x")}),
        ],
        {"x": INT},
        failure_node=outer_handler,
    )
    outer.nodes[1].upstream_node_ids.append("sub")
    run = kit.run(compile_(outer, [FLAKY, REPORT, ECHO], [inner]), literal_map(x=integer(3)))
    assert run.state.phase is WorkflowPhase.FAILED
    assert run.state.nodes["sub-0-fn0"].phase is NodePhase.SUCCEEDED
    error = received_error(kit, run, "sub-0-fn0")
    assert error.failed_node_id == "sub-0-bad"
    assert error.message == "node 'sub-0-bad': user failure 0"
    assert run.state.nodes["sub"].phase is NodePhase.FAILED
    assert run.state.nodes["sub"].error.message == "node 'sub-0-bad': user failure 0"
    assert run.state.nodes["after"].phase is NodePhase.SKIPPED
    assert run.state.nodes["fn0"].phase is NodePhase.SUCCEEDED
    handler_events = [e for e in kit.events("node") if e.id.node_id == "sub-0-fn0"]
    assert handler_events and all(e.parent_node_metadata.node_id == "sub" for e in handler_events)


def test_a_retried_sub_workflow_runs_its_failure_node_once_after_the_last_attempt(kit):
    inner = workflow(
        "inner", [task_node("bad", FLAKY, {"x": wf_input("x")})], {"x": INT}, failure_node=handler_node()
    )
    node = subworkflow_node("sub", inner, {"x": wf_input("x")})
    node.metadata.retries.retries = 1
    run = kit.run(
        compile_(workflow("outer", [node], {"x": INT}), [FLAKY, REPORT], [inner]), literal_map(x=integer(3))
    )
    assert run.state.phase is WorkflowPhase.FAILED
    assert "sub-0-fn0" not in run.state.nodes
    assert run.state.nodes["sub-1-fn0"].phase is NodePhase.SUCCEEDED
    assert received_error(kit, run, "sub-1-fn0").failed_node_id == "sub-1-bad"


def test_a_failing_sub_workflow_handler_fails_the_sub_workflow_node_with_its_error(kit):
    inner = workflow(
        "inner",
        [task_node("bad", FLAKY, {"x": wf_input("x")})],
        {"x": INT},
        failure_node=handler_node(BROKEN_REPORT),
    )
    outer = workflow("outer", [subworkflow_node("sub", inner, {"x": wf_input("x")})], {"x": INT})
    run = kit.run(compile_(outer, [FLAKY, BROKEN_REPORT], [inner]), literal_map(x=integer(3)))
    assert run.state.nodes["sub"].error.message == "node 'sub-0-fn0': user failure 0"
    assert run.state.error.message == "node 'sub-0-fn0': user failure 0"
