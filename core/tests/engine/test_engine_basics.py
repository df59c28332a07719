"""Whole executions on the engine: data flow, phases, events, and clear errors."""

from __future__ import annotations

import pytest
from flyte import (
    INT,
    STR,
    compile_,
    integer,
    literal_map,
    ref,
    string,
    task,
    task_node,
    value,
    wf_input,
    workflow,
)
from flyteidl.core import execution_pb2

from roost_core.engine import InvalidInputsError, NodePhase, WorkflowPhase

ECHO = task("echo_t", "echo", {"x": INT})


def diamond():
    return compile_(
        workflow(
            "diamond",
            [
                task_node("a", ECHO, {"x": wf_input("x")}),
                task_node("b", ECHO, {"x": ref("a", "x")}),
                task_node("c", ECHO, {"x": ref("a", "x")}),
                task_node("d", ECHO, {"x": ref("b", "x")}, upstream=["c"]),
            ],
            {"x": INT},
            {"y": INT},
            {"y": ref("d", "x")},
        ),
        [ECHO],
    )


def test_diamond_runs_to_its_outputs(kit):
    run = kit.run(diamond(), literal_map(x=integer(7)))
    assert run.state.phase is WorkflowPhase.SUCCEEDED
    assert value(kit.engine.outputs(run).literals["y"]) == 7
    assert kit.node_phases(run) == dict.fromkeys("abcd", "SUCCEEDED")


def test_a_chain_of_quick_tasks_finishes_in_one_round(kit):
    nodes = [task_node("n0", ECHO, {"x": wf_input("x")})]
    nodes += [task_node(f"n{i}", ECHO, {"x": ref(f"n{i - 1}", "x")}) for i in range(1, 50)]
    closure = compile_(workflow("chain", nodes, {"x": INT}, {"y": INT}, {"y": ref("n49", "x")}), [ECHO])
    run = kit.start(closure, literal_map(x=integer(1)))
    kit.engine.evaluate(run)
    assert run.state.phase is WorkflowPhase.SUCCEEDED


def test_events_follow_each_node_through_its_phases(kit):
    run = kit.run(diamond(), literal_map(x=integer(1)))
    wf_phases = [e.phase for e in kit.events("workflow")]
    assert wf_phases == [
        execution_pb2.WorkflowExecution.RUNNING,
        execution_pb2.WorkflowExecution.SUCCEEDING,
        execution_pb2.WorkflowExecution.SUCCEEDED,
    ]
    assert kit.events("workflow")[-1].output_uri == run.state.outputs_uri
    node_events = [e for e in kit.events("node") if e.id.node_id == "d"]
    assert [e.phase for e in node_events] == [
        execution_pb2.NodeExecution.QUEUED,
        execution_pb2.NodeExecution.RUNNING,
        execution_pb2.NodeExecution.SUCCEEDED,
    ]
    assert node_events[0].input_uri.endswith("/d/inputs.pb")
    assert node_events[-1].output_uri.endswith("/d/0/outputs.pb")
    task_events = [e for e in kit.events("task") if e.parent_node_execution_id.node_id == "d"]
    assert [e.phase for e in task_events] == [execution_pb2.TaskExecution.SUCCEEDED]
    assert task_events[0].task_id.name == "echo_t"
    ids = [e.id for e in kit.sink.events]
    assert len(ids) == len(set(ids))


def test_missing_and_mistyped_inputs_are_refused_before_anything_is_written(kit):
    with pytest.raises(InvalidInputsError) as missing:
        kit.start(diamond(), literal_map())
    assert str(missing.value) == "workflow 'diamond': input 'x' (int) was not given"
    with pytest.raises(InvalidInputsError) as wrong:
        kit.start(diamond(), literal_map(x=string("seven"), z=integer(1)))
    assert str(wrong.value) == (
        "workflow 'diamond': input 'x' expects int but got str; input 'z' is not an input of the workflow"
    )
    assert kit.memory.exists("mem://data/e1/closure.pb") is False


def test_a_queued_state_is_built_without_writes_and_its_blobs_written_after(kit):
    kit.storage.write_proto("mem://closures/diamond.pb", diamond())
    ident, inputs = kit.execution_id("later"), literal_map(x=integer(3))
    where = {"data_prefix": "mem://data/later", "closure_uri": "mem://closures/diamond.pb"}
    state = kit.engine.queued_state(ident, diamond(), inputs, **where)
    assert not kit.memory.exists(state.inputs_uri) and kit.store.load("p/d/later") is None, "nothing written"
    assert state.phase == WorkflowPhase.QUEUED
    assert (state.closure_uri, state.inputs_uri) == (
        "mem://closures/diamond.pb",
        "mem://data/later/inputs.pb",
    )
    kit.engine.write_queued(state, inputs)
    assert kit.storage.read_proto(state.inputs_uri, type(inputs)) == inputs
    started = kit.engine.start(kit.execution_id("now"), diamond(), inputs, data_prefix="mem://data/now").state
    assert state.to_dict() == started.to_dict() | {
        "name": "later",
        "updated_at": state.updated_at,
        "closure_uri": "mem://closures/diamond.pb",
        "inputs_uri": "mem://data/later/inputs.pb",
        "data_prefix": "mem://data/later",
        "raw_output_prefix": "mem://data/later/raw",
    }, "the state start() saves, but for where its blobs are"
    with pytest.raises(InvalidInputsError):
        kit.engine.queued_state(kit.execution_id("bad"), diamond(), literal_map(), **where)


def test_a_queued_execution_saved_by_its_caller_is_run_by_another_engine(kit):
    kit.storage.write_proto("mem://closures/diamond.pb", diamond())
    ident, inputs = kit.execution_id("queued"), literal_map(x=integer(3))
    state = kit.engine.queued_state(
        ident, diamond(), inputs, data_prefix="mem://data/queued", closure_uri="mem://closures/diamond.pb"
    )
    kit.store.save(state)
    kit.engine.write_queued(state, inputs)
    run = kit.new_engine().resume("p/d/queued")
    kit.engine.run(run, timeout=30)
    assert run.state.phase == WorkflowPhase.SUCCEEDED


def test_an_unknown_task_type_names_the_node_and_the_installed_handlers(kit):
    odd = task("odd", "no-such-type", {"x": INT})
    closure = compile_(workflow("wf", [task_node("n0", odd, {"x": wf_input("x")})], {"x": INT}), [odd])
    run = kit.run(closure, literal_map(x=integer(1)))
    assert run.state.phase is WorkflowPhase.FAILED
    message = run.state.error.message
    assert message.startswith(
        "task 'odd' on node 'n0': no handler for task type 'no-such-type'; installed handlers: "
    )
    assert "echo (echo)" in message
    assert "counting-echo (counting-echo)" in message


def test_a_handler_that_raises_fails_the_node_not_the_engine(kit):
    boom = task("boom", "exploding", {"x": INT})
    closure = compile_(workflow("wf", [task_node("n0", boom, {"x": wf_input("x")})], {"x": INT}), [boom])
    run = kit.run(closure, literal_map(x=integer(1)))
    assert run.state.phase is WorkflowPhase.FAILED
    node = run.state.nodes["n0"]
    assert node.error.kind.value == "SYSTEM"
    assert node.error.message == (
        "node 'n0': task 'boom': handler 'exploding' raised ZeroDivisionError: "
        "division by zero (gave up after 4 attempt(s))"
    )


def test_outputs_of_the_wrong_type_fail_the_node_with_a_message_naming_the_output(kit):
    liar = task("liar", "wrong-outputs", {"x": INT})
    closure = compile_(workflow("wf", [task_node("n0", liar, {"x": wf_input("x")})], {"x": INT}), [liar])
    run = kit.run(closure, literal_map(x=integer(1)))
    assert run.state.nodes["n0"].error.message == (
        "task 'liar' on node 'n0' returned output 'x' of type str, expected int"
    )


def test_independent_nodes_run_side_by_side_and_max_parallelism_bounds_them(kit):
    from roost_core.engine import ExecutionOptions

    gated = task("g", "gate", {"x": INT})
    nodes = [task_node(f"n{i}", gated, {"x": wf_input("x")}) for i in range(6)]
    closure = compile_(workflow("fan", nodes, {"x": INT}), [gated])
    run = kit.start(closure, literal_map(x=integer(1)), options=ExecutionOptions(max_parallelism=2))
    for _ in range(5):
        kit.engine.evaluate(run)
    assert kit.handlers.gate.most_at_once == 2
    assert sum(n.phase is NodePhase.RUNNING for n in run.state.nodes.values()) == 2
    kit.handlers.gate.open.set()
    kit.engine.run(run, timeout=10)
    assert run.state.phase is WorkflowPhase.SUCCEEDED
    assert kit.handlers.gate.most_at_once == 2


def test_a_sub_workflow_three_levels_deep(kit):
    from flyte import subworkflow_node

    inner = workflow(
        "inner", [task_node("n0", ECHO, {"x": wf_input("x")})], {"x": INT}, {"y": INT}, {"y": ref("n0", "x")}
    )
    middle = workflow(
        "middle",
        [subworkflow_node("n0", inner, {"x": wf_input("x")})],
        {"x": INT},
        {"y": INT},
        {"y": ref("n0", "y")},
    )
    outer = workflow(
        "outer",
        [subworkflow_node("n0", middle, {"x": wf_input("x")}), task_node("n1", ECHO, {"x": ref("n0", "y")})],
        {"x": INT},
        {"y": INT},
        {"y": ref("n1", "x")},
    )
    run = kit.run(compile_(outer, [ECHO], [middle, inner]), literal_map(x=integer(5)))
    assert run.state.phase is WorkflowPhase.SUCCEEDED
    assert value(kit.engine.outputs(run).literals["y"]) == 5
    assert run.state.nodes["n0-0-n0-0-n0"].phase is NodePhase.SUCCEEDED
    innermost = [e for e in kit.events("node") if e.id.node_id == "n0-0-n0-0-n0"]
    assert innermost[0].parent_node_metadata.node_id == "n0-0-n0"
    assert {e.id.node_id for e in kit.events("node") if e.is_parent} == {"n0", "n0-0-n0"}


STR_ECHO = task("str_echo", "echo", {"x": STR})
