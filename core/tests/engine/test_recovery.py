"""Recovery and resume in the engine: what a recovered execution reuses inside branches, across an engine
restart, and the content rules resuming applies (task digests, interface changes)."""

from __future__ import annotations

import threading
from collections import Counter

from conftest import EngineKit
from flyte import INT, STR, compile_, integer, literal_map, ref, task, task_node, wf_input, workflow
from flyte import comparison as compare
from flyteidl.core import literals_pb2, tasks_pb2, workflow_pb2

from roost_core import hookimpl
from roost_core.engine import NodePhase, WorkflowPhase
from roost_core.engine.recovery import (
    DETERMINISTIC_TAG,
    RecoverySource,
    interface_changes,
    task_digest,
)
from roost_core.handler import TaskContext, TaskHandler, Transition
from roost_core.plugins import EnginePlugins


class Switch(TaskHandler):
    """Echo that fails on the nodes whose ids end in one of ``failing``; counts the attempts per node."""

    name = "switch"

    def __init__(self) -> None:
        self.failing: set[str] = set()
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()

    def handle(self, ctx: TaskContext) -> Transition:
        with self.lock:
            self.calls[ctx.node_id] += 1
        if any(ctx.node_id.endswith(name) for name in self.failing):
            return Transition.failure("Switched", f"{ctx.node_id} is switched off")
        ctx.write_outputs(ctx.read_inputs())
        return Transition.success()


class SwitchPlugin:
    def __init__(self) -> None:
        self.switch = Switch()

    @hookimpl
    def roost_task_handlers(self, register):
        register("switch", lambda: self.switch, task_types=["switch"], default=True)


SWITCH = task("switch_t", "switch", {"x": INT})


def _kit(tmp_path) -> tuple[EngineKit, Switch]:
    plugin = SwitchPlugin()
    return EngineKit(tmp_path, plugins=EnginePlugins([plugin], entry_points=False)), plugin.switch


def _branchy():
    if_else = workflow_pb2.IfElseBlock(
        case=workflow_pb2.IfBlock(
            condition=compare(".x", "GT", 5), then_node=task_node("big", SWITCH, {"x": wf_input("x")})
        ),
        else_node=task_node("small", SWITCH, {"x": wf_input("x")}),
    )
    nodes = [
        task_node("n0", SWITCH, {"x": wf_input("x")}),
        workflow_pb2.Node(
            id="choose",
            inputs=[literals_pb2.Binding(var=".x", binding=ref("n0", "x"))],
            branch_node=workflow_pb2.BranchNode(if_else=if_else),
            metadata=workflow_pb2.NodeMetadata(name="choose"),
        ),
        task_node("after", SWITCH, {"x": ref("choose", "x")}),
    ]
    return compile_(workflow("branchy", nodes, {"x": INT}, {"y": INT}, {"y": ref("after", "x")}), [SWITCH])


def _recover(kit: EngineKit, original, closure, inputs):
    return kit.run(closure, inputs, recover_from=RecoverySource.of(original.state))


def test_a_branch_that_succeeded_is_recovered_whole(tmp_path):
    kit, switch = _kit(tmp_path)
    closure, inputs = _branchy(), literal_map(x=integer(7))
    switch.failing = {"after"}
    original = kit.run(closure, inputs)
    assert original.state.phase is WorkflowPhase.FAILED
    switch.failing, switch.calls = set(), Counter()
    recovered = _recover(kit, original, closure, inputs)
    assert recovered.state.phase is WorkflowPhase.SUCCEEDED
    assert switch.calls == Counter(after=1)
    assert recovered.state.nodes["choose"].phase is NodePhase.RECOVERED
    assert recovered.state.nodes["choose"].branch_taken.endswith("big")


def test_a_branch_whose_case_failed_runs_again_and_its_upstream_is_recovered(tmp_path):
    kit, switch = _kit(tmp_path)
    closure, inputs = _branchy(), literal_map(x=integer(7))
    switch.failing = {"-big"}
    original = kit.run(closure, inputs)
    assert original.state.phase is WorkflowPhase.FAILED
    switch.failing, switch.calls = set(), Counter()
    recovered = _recover(kit, original, closure, inputs)
    assert recovered.state.phase is WorkflowPhase.SUCCEEDED
    assert sorted(switch.calls.values()) == [1, 1]
    assert switch.calls["after"] == 1
    assert recovered.state.nodes["n0"].phase is NodePhase.RECOVERED
    assert value_of(kit, recovered) == 7


def value_of(kit: EngineKit, run) -> int:
    return int(kit.engine.outputs(run).literals["y"].scalar.primitive.integer)


def test_a_recovered_execution_picked_up_by_another_engine_still_recovers(tmp_path):
    kit, switch = _kit(tmp_path)
    closure, inputs = _branchy(), literal_map(x=integer(2))
    switch.failing = {"after"}
    original = kit.run(closure, inputs)
    switch.failing, switch.calls = set(), Counter()
    started = kit.start(closure, inputs, recover_from=RecoverySource.of(original.state))
    resumed = kit.new_engine().resume(started.key)
    kit.engine.run(resumed, timeout=30)
    assert resumed.state.phase is WorkflowPhase.SUCCEEDED
    assert switch.calls == Counter(after=1)
    assert resumed.state.nodes["choose"].phase is NodePhase.RECOVERED


def _deterministic(template: tasks_pb2.TaskTemplate, digest: str = "abc") -> tasks_pb2.TaskTemplate:
    copy = tasks_pb2.TaskTemplate()
    copy.CopyFrom(template)
    copy.metadata.tags[DETERMINISTIC_TAG] = digest
    return copy


def test_task_digests_leave_out_the_version_and_for_declared_tasks_the_code_archive():
    archive = tasks_pb2.Container(
        args=["roost-fast-execute", "--additional-distribution", "s3://b/one.tar.gz"]
    )
    moved = tasks_pb2.Container(args=["roost-fast-execute", "--additional-distribution", "s3://b/two.tar.gz"])
    first = task("t", "echo", {"x": INT}, container=archive)
    other_version = tasks_pb2.TaskTemplate()
    other_version.CopyFrom(first)
    other_version.id.version = "v2"
    assert task_digest(first) == task_digest(other_version)
    second = task("t", "echo", {"x": INT}, container=moved)
    assert task_digest(first) != task_digest(second)
    assert task_digest(_deterministic(first)) == task_digest(_deterministic(second))
    assert task_digest(_deterministic(first)) != task_digest(_deterministic(second, "edited"))


def test_interface_changes_name_each_input_and_output_that_changed_type():
    nodes = [task_node("n0", SWITCH, {"x": wf_input("x")})]
    before = compile_(workflow("w", nodes, {"x": INT}, {"y": INT}, {"y": ref("n0", "x")}), [SWITCH])
    echo_str = task("switch_s", "switch", {"x": STR})
    after = compile_(
        workflow(
            "w",
            [task_node("n0", echo_str, {"x": wf_input("x")})],
            {"x": STR},
            {"y": STR},
            {"y": ref("n0", "x")},
        ),
        [echo_str],
    )
    assert interface_changes(before, after) == [
        "input 'x' changed type from int to str",
        "output 'y' changed type from int to str",
    ]
    assert interface_changes(before, before) == []
