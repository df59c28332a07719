"""Branches, gates, failure policies and failure nodes."""

from __future__ import annotations

from flyte import (
    BOOL,
    INT,
    comparison,
    compile_,
    integer,
    literal_map,
    ref,
    task,
    task_node,
    value,
    wf_input,
    workflow,
)
from flyteidl.core import literals_pb2, types_pb2, workflow_pb2

from roost_core.engine import ExecutionOptions, MemorySignals, NodePhase, WorkflowPhase

ECHO = task("echo_t", "echo", {"x": INT})
FLAKY = task("flaky_t", "flaky", {"x": INT}, custom={"user": 10})


def branch_workflow(with_else: bool = True):
    if_else = workflow_pb2.IfElseBlock(
        case=workflow_pb2.IfBlock(
            condition=comparison(".x", "GT", 10), then_node=task_node("n0", ECHO, {"x": ref("n0", "x")})
        ),
        other=[
            workflow_pb2.IfBlock(
                condition=comparison(".x", "GT", 5), then_node=task_node("n1", ECHO, {"x": wf_input("x")})
            )
        ],
    )
    if with_else:
        if_else.else_node.CopyFrom(task_node("n2", ECHO, {"x": wf_input("x")}))
    else:
        if_else.error.CopyFrom(types_pb2.Error(failed_node_id="choose", message="x is too small"))
    nodes = [
        task_node("n0", ECHO, {"x": wf_input("x")}),
        workflow_pb2.Node(
            id="choose",
            inputs=[literals_pb2.Binding(var=".x", binding=ref("n0", "x"))],
            branch_node=workflow_pb2.BranchNode(if_else=if_else),
            metadata=workflow_pb2.NodeMetadata(name="choose"),
        ),
        task_node("after", ECHO, {"x": ref("choose", "x")}),
    ]
    return compile_(workflow("branchy", nodes, {"x": INT}, {"y": INT}, {"y": ref("after", "x")}), [ECHO])


def test_the_first_matching_case_runs_and_the_others_are_skipped(kit):
    closure = branch_workflow()
    for x, taken in ((20, "n0"), (7, "n1"), (1, "n2")):
        run = kit.run(closure, literal_map(x=integer(x)))
        assert run.state.phase is WorkflowPhase.SUCCEEDED
        assert value(kit.engine.outputs(run).literals["y"]) == x
        assert run.state.nodes["choose"].branch_taken.endswith(taken)
        children = {uid: n.phase for uid, n in run.state.nodes.items() if uid.startswith("choose-0-")}
        assert sorted(p.name for p in children.values()) == ["SKIPPED", "SKIPPED", "SUCCEEDED"]


def test_flytekits_echo_in_a_conditional_passes_its_input_on_as_o0(kit):
    # flytekit's Echo(name, inputs={"a": int}) declares the output o0; Flyte's echo plugin maps a onto it.
    echo = task("echo", "echo", {"a": INT}, {"o0": INT})
    positive = task("positive", "echo", {"o0": INT})
    if_else = workflow_pb2.IfElseBlock(
        case=workflow_pb2.IfBlock(
            condition=comparison(".x", "GT", 0), then_node=task_node("n0", positive, {"o0": wf_input("x")})
        ),
        else_node=task_node("n1", echo, {"a": wf_input("x")}),
    )
    choose = workflow_pb2.Node(
        id="sign",
        inputs=[literals_pb2.Binding(var=".x", binding=wf_input("x"))],
        branch_node=workflow_pb2.BranchNode(if_else=if_else),
    )
    closure = compile_(
        workflow("signed", [choose], {"x": INT}, {"y": INT}, {"y": ref("sign", "o0")}), [echo, positive]
    )
    run = kit.run(closure, literal_map(x=integer(-4)))
    assert run.state.phase is WorkflowPhase.SUCCEEDED, run.state.error
    assert value(kit.engine.outputs(run).literals["y"]) == -4


def test_a_branch_without_a_match_fails_with_the_users_message(kit):
    run = kit.run(branch_workflow(with_else=False), literal_map(x=integer(1)))
    assert run.state.phase is WorkflowPhase.FAILED
    assert run.state.error.message == "node 'choose': x is too small"
    assert run.state.nodes["after"].phase is NodePhase.SKIPPED


def test_fail_immediately_aborts_the_running_and_skips_the_rest(kit):
    gated = task("g", "gate", {"x": INT})
    nodes = [
        task_node("slow", gated, {"x": wf_input("x")}),
        task_node("bad", FLAKY, {"x": wf_input("x")}),
        task_node("later", ECHO, {"x": ref("slow", "x")}),
    ]
    run = kit.run(
        compile_(workflow("wf", nodes, {"x": INT}), [FLAKY, gated, ECHO]), literal_map(x=integer(1))
    )
    assert run.state.phase is WorkflowPhase.FAILED
    assert kit.node_phases(run) == {"bad": "FAILED", "slow": "ABORTED", "later": "SKIPPED"}
    assert kit.handlers.gate.aborted == ["slow"]
    assert run.state.error.message == "node 'bad': user failure 0"


def test_fail_after_executable_nodes_complete_lets_independent_work_finish(kit):
    nodes = [
        task_node("bad", FLAKY, {"x": wf_input("x")}),
        task_node("after_bad", ECHO, {"x": ref("bad", "x")}),
        task_node("fine", ECHO, {"x": wf_input("x")}),
        task_node("after_fine", ECHO, {"x": ref("fine", "x")}),
    ]
    closure = compile_(workflow("wf", nodes, {"x": INT}, fail_late=True), [FLAKY, ECHO])
    run = kit.run(closure, literal_map(x=integer(1)))
    assert run.state.phase is WorkflowPhase.FAILED
    assert kit.node_phases(run) == {
        "bad": "FAILED",
        "after_bad": "SKIPPED",
        "fine": "SUCCEEDED",
        "after_fine": "SUCCEEDED",
    }
    assert run.state.nodes["after_bad"].message == "upstream node 'bad' failed"


def test_the_failure_node_runs_when_the_workflow_fails(kit):
    cleanup = task_node("cleanup", ECHO, {"x": wf_input("x")})
    closure = compile_(
        workflow("wf", [task_node("bad", FLAKY, {"x": wf_input("x")})], {"x": INT}, failure_node=cleanup),
        [FLAKY, ECHO],
    )
    run = kit.run(closure, literal_map(x=integer(3)))
    assert run.state.phase is WorkflowPhase.FAILED
    assert run.state.nodes["cleanup"].phase is NodePhase.SUCCEEDED
    phases = [e.phase for e in kit.events("workflow")]
    assert phases[-2:] == [WorkflowPhase.FAILING, WorkflowPhase.FAILED]


def gate_node(node_id, *, bind=True, **condition):
    inputs = [literals_pb2.Binding(var="x", binding=wf_input("x"))] if bind else []
    return workflow_pb2.Node(id=node_id, inputs=inputs, gate_node=workflow_pb2.GateNode(**condition))


def test_a_sleep_gate_holds_its_downstream_back(kit):
    sleep = workflow_pb2.SleepCondition()
    sleep.duration.FromMilliseconds(200)
    nodes = [
        gate_node("nap", bind=False, sleep=sleep),
        task_node("after", ECHO, {"x": wf_input("x")}, upstream=["nap"]),
    ]
    closure = compile_(workflow("wf", nodes, {"x": INT}, {"y": INT}, {"y": ref("after", "x")}), [ECHO])
    run = kit.start(closure, literal_map(x=integer(4)))
    kit.engine.evaluate(run)
    assert run.state.nodes["nap"].phase is NodePhase.RUNNING
    assert "after" not in run.state.nodes
    kit.engine.run(run, timeout=5)
    assert value(kit.engine.outputs(run).literals["y"]) == 4
    assert run.state.nodes["nap"].updated_at - run.state.nodes["nap"].queued_at >= 0.2


def test_an_approval_gate_waits_for_its_signal(kit):
    signals = MemorySignals()
    kit.engine = kit.new_engine(signals=signals)
    approve = workflow_pb2.ApproveCondition(signal_id="ship-it")
    closure = compile_(
        workflow("wf", [gate_node("ok", approve=approve)], {"x": INT}, {"y": INT}, {"y": ref("ok", "x")}), []
    )
    run = kit.start(closure, literal_map(x=integer(9)))
    kit.engine.evaluate(run)
    assert signals.waiting() == [(run.key, "ship-it")]
    yes = literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(boolean=True)))
    signals.set(run.key, "ship-it", yes)
    kit.engine.run(run, timeout=5)
    assert value(kit.engine.outputs(run).literals["y"]) == 9

    run = kit.start(closure, literal_map(x=integer(9)))
    kit.engine.evaluate(run)
    no = literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(boolean=False)))
    signals.set(run.key, "ship-it", no)
    kit.engine.run(run, timeout=5)
    assert run.state.error.message == "node 'ok': approval 'ship-it' was rejected"


def test_a_round_waiting_only_for_a_signal_or_a_timer_is_parkable(kit):
    signals = MemorySignals()
    kit.engine = kit.new_engine(signals=signals)
    approve = workflow_pb2.ApproveCondition(signal_id="ship-it")
    closure = compile_(
        workflow("wf", [gate_node("ok", approve=approve)], {"x": INT}, {"y": INT}, {"y": ref("ok", "x")}), []
    )
    run = kit.start(closure, literal_map(x=integer(9)))
    waiting = kit.engine.evaluate(run)
    assert (waiting.parkable, waiting.timer) == (True, None)
    assert waiting.next_wake is not None, "an engine nobody wakes still polls for the signal"

    sleep = workflow_pb2.SleepCondition()
    sleep.duration.FromSeconds(60)
    nodes = [
        gate_node("nap", bind=False, sleep=sleep),
        task_node("after", ECHO, {"x": wf_input("x")}, upstream=["nap"]),
    ]
    closure = compile_(workflow("wf", nodes, {"x": INT}, {"y": INT}, {"y": ref("after", "x")}), [ECHO])
    run = kit.start(closure, literal_map(x=integer(4)))
    sleeping = kit.engine.evaluate(run)
    assert sleeping.parkable
    assert sleeping.timer == run.state.nodes["nap"].wake_at


def test_a_signal_gate_outputs_the_value_and_checks_its_type(kit):
    signals = MemorySignals()
    kit.engine = kit.new_engine(signals=signals)
    signal = workflow_pb2.SignalCondition(signal_id="flag", type=BOOL, output_variable_name="o0")
    closure = compile_(
        workflow(
            "wf",
            [gate_node("wait", bind=False, signal=signal)],
            {"x": INT},
            {"y": BOOL},
            {"y": ref("wait", "o0")},
        ),
        [],
    )
    run = kit.start(closure, literal_map(x=integer(1)))
    kit.engine.evaluate(run)
    signals.set(run.key, "flag", integer(3))
    kit.engine.run(run, timeout=5)
    assert run.state.error.message == "node 'wait': signal 'flag' expects bool but got int"


def test_interruptible_reaches_the_handler_until_system_failures_pile_up(kit):
    seen = []

    class Spy:
        from roost_core import hookimpl

        @hookimpl
        def roost_task_handlers(self, register):
            from roost_core.errors import ErrorKind
            from roost_core.handler import TaskHandler, Transition

            class Preempted(TaskHandler):
                name = "preempted"

                def handle(self, ctx):
                    seen.append(ctx.interruptible)
                    if ctx.attempt < 2:
                        return Transition.failure("Preempted", "node preempted", kind=ErrorKind.SYSTEM)
                    ctx.write_outputs(ctx.read_inputs())
                    return Transition.success()

            register("preempted", Preempted, task_types=["preempted"], default=True)

    from roost_core.plugins import EnginePlugins

    kit.engine = kit.new_engine(plugins=EnginePlugins([Spy()], entry_points=False))
    spot = task("spot", "preempted", {"x": INT}, interruptible=True)
    closure = compile_(workflow("wf", [task_node("n0", spot, {"x": wf_input("x")})], {"x": INT}), [spot])
    run = kit.run(closure, literal_map(x=integer(1)))
    assert run.state.phase is WorkflowPhase.SUCCEEDED
    assert seen == [True, False, False]
    assert (
        kit.run(closure, literal_map(x=integer(1)), options=ExecutionOptions(interruptible=False)).state.phase
        is WorkflowPhase.SUCCEEDED
    )
    assert seen[3:] == [False, False, False]
