"""The task cache, event delivery through failing sinks, and launch-plan child executions."""

from __future__ import annotations

import json

from flyte import (
    INT,
    compile_,
    ident,
    integer,
    literal_map,
    ref,
    task,
    task_node,
    value,
    wf_input,
    workflow,
)
from flyteidl.core import catalog_pb2, execution_pb2, identifier_pb2, literals_pb2, workflow_pb2

from roost_core.catalog import CacheKey, MemoryCatalog
from roost_core.engine import (
    EngineConfig,
    ExecutionOptions,
    InProcessLauncher,
    LaunchPlanEntry,
    NodePhase,
    WorkflowPhase,
)
from roost_core.engine.graph import id_key
from roost_core.events import JsonLinesSink, MemorySink


def cached(version="1", **kwargs):
    return task("counted", "counting-echo", {"x": INT}, cache_version=version, **kwargs)


def single(t):
    return compile_(
        workflow(
            "wf", [task_node("n0", t, {"x": wf_input("x")})], {"x": INT}, {"y": INT}, {"y": ref("n0", "x")}
        ),
        [t],
    )


def test_a_cached_task_runs_once_per_input(kit):
    closure = single(cached())
    first = kit.run(closure, literal_map(x=integer(1)))
    second = kit.run(closure, literal_map(x=integer(1)))
    third = kit.run(closure, literal_map(x=integer(2)))
    assert kit.handlers.counting.calls["n0"] == 2
    assert first.state.nodes["n0"].cache_status == catalog_pb2.CACHE_POPULATED
    assert second.state.nodes["n0"].cache_status == catalog_pb2.CACHE_HIT
    assert third.state.nodes["n0"].cache_status == catalog_pb2.CACHE_POPULATED
    assert value(kit.engine.outputs(second).literals["y"]) == 1
    hit_events = [
        e for e in kit.events("node") if e.id.execution_id.name == second.state.name and e.id.node_id == "n0"
    ]
    assert hit_events[-1].task_node_metadata.cache_status == catalog_pb2.CACHE_HIT


def test_the_cache_version_not_the_task_version_decides(kit):
    kit.run(single(cached()), literal_map(x=integer(1)))
    new_version = cached()
    new_version.id.version = "v2"
    kit.run(single(new_version), literal_map(x=integer(1)))
    assert kit.handlers.counting.calls["n0"] == 1
    kit.run(single(cached("2")), literal_map(x=integer(1)))
    assert kit.handlers.counting.calls["n0"] == 2


def test_overwrite_cache_runs_again_and_replaces_the_entry(kit):
    from roost_core.engine import ExecutionOptions

    closure = single(cached())
    kit.run(closure, literal_map(x=integer(1)))
    kit.run(closure, literal_map(x=integer(1)), options=ExecutionOptions(overwrite_cache=True))
    assert kit.handlers.counting.calls["n0"] == 2


def test_ignored_inputs_do_not_change_the_key():
    t = cached()
    a = CacheKey.for_task(t.id, t.interface, "1", literal_map(x=integer(1), seed=integer(1)), ["seed"])
    b = CacheKey.for_task(t.id, t.interface, "1", literal_map(x=integer(1), seed=integer(2)), ["seed"])
    c = CacheKey.for_task(t.id, t.interface, "1", literal_map(x=integer(2), seed=integer(2)), ["seed"])
    assert a == b != c
    assert str(a).startswith("p/d/flyte_task-counted/1-")


def test_serializable_cache_lets_one_execution_run_while_the_other_waits(kit):
    catalog = MemoryCatalog()
    kit.engine = kit.new_engine(catalog=catalog)
    gated = task("slow", "gate", {"x": INT}, cache_version="1", serializable=True)
    closure = single(gated)
    first = kit.start(closure, literal_map(x=integer(1)))
    second = kit.start(closure, literal_map(x=integer(1)))
    for _ in range(3):
        kit.engine.evaluate(first)
        kit.engine.evaluate(second)
    assert kit.handlers.gate.running == {"n0"}
    assert second.state.nodes["n0"].message.startswith("waiting for the cache reservation of ")
    kit.handlers.gate.open.set()
    kit.engine.run(first, timeout=10)
    kit.engine.run(second, timeout=10)
    assert second.state.nodes["n0"].cache_status == catalog_pb2.CACHE_HIT


class Flaky:
    """A sink that fails its first ``failures`` deliveries."""

    def __init__(self, failures):
        self.failures = failures
        self.inner = MemorySink()
        self.calls = 0

    def send(self, events):
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError("sink is down")
        self.inner.send(events)


def test_a_failing_sink_is_retried_and_loses_nothing(kit):
    flaky = Flaky(failures=5)
    kit.engine = kit.new_engine(
        sinks={"memory": kit.sink, "flaky": flaky},
        config=EngineConfig(poll_interval=0.01, event_backoff=0.001),
    )
    closure = single(task("e", "echo", {"x": INT}))
    run = kit.run(closure, literal_map(x=integer(1)))
    assert run.state.phase is WorkflowPhase.SUCCEEDED
    assert [e.id for e in flaky.inner.events] == [e.id for e in kit.sink.events]
    assert run.state.outbox == []
    saved = kit.store.load(run.key)
    assert saved.phase is WorkflowPhase.SUCCEEDED


def test_undelivered_events_stay_in_the_saved_state_and_go_out_after_a_restart(kit):
    down = Flaky(failures=10**9)
    kit.engine = kit.new_engine(sinks={"down": down}, config=EngineConfig(event_backoff=0.0001))
    run = kit.start(single(task("e", "echo", {"x": INT})), literal_map(x=integer(1)))
    kit.engine.evaluate(run)
    saved = kit.store.load(run.key)
    assert saved.phase is WorkflowPhase.SUCCEEDED
    assert [e.id for e in saved.outbox] == [e.id for e in run.state.outbox]
    assert len(saved.outbox) >= 5

    up = MemorySink()
    fresh = kit.new_engine(sinks={"down": up})
    resumed = fresh.resume(run.key)
    fresh.run(resumed, timeout=5)
    assert [e.id for e in up.events] == [e.id for e in saved.outbox]
    assert kit.store.load(run.key).outbox == []


def test_the_json_lines_sink_writes_each_event_once_even_across_reopening(kit, tmp_path):
    path = tmp_path / "events.jsonl"
    kit.engine = kit.new_engine(sinks={"memory": kit.sink, "file": JsonLinesSink(path)})
    kit.run(single(task("e", "echo", {"x": INT})), literal_map(x=integer(1)))
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["id"] for line in lines] == [e.id for e in kit.sink.events]
    assert lines[0]["event"]["phase"] == "RUNNING"
    JsonLinesSink(path).send(kit.sink.events)
    assert len(path.read_text().splitlines()) == len(lines)


def test_a_launch_plan_node_runs_a_child_execution(kit):
    echo = task("e", "echo", {"x": INT})
    child_wf = workflow(
        "child", [task_node("n0", echo, {"x": wf_input("x")})], {"x": INT}, {"y": INT}, {"y": ref("n0", "x")}
    )
    child_closure = compile_(child_wf, [echo])
    lp_id = ident("child_lp", identifier_pb2.LAUNCH_PLAN)
    lp = workflow_pb2.LaunchPlanTemplate(id=lp_id, interface=child_wf.interface)
    launcher = InProcessLauncher({id_key(lp_id): LaunchPlanEntry(child_closure)}, "mem://children")
    kit.engine = kit.new_engine(launcher=launcher)
    parent = workflow(
        "parent",
        [
            workflow_pb2.Node(
                id="n0",
                inputs=[literals_pb2.Binding(var="x", binding=wf_input("x"))],
                workflow_node=workflow_pb2.WorkflowNode(launchplan_ref=lp_id),
            )
        ],
        {"x": INT},
        {"y": INT},
        {"y": ref("n0", "y")},
    )
    options = ExecutionOptions(
        max_parallelism=2, interruptible=True, overwrite_cache=True, labels={"a": "b"}, environment={"E": "1"}
    )
    run = kit.run(compile_(parent, [echo], launch_plans=[lp]), literal_map(x=integer(6)), options=options)
    assert run.state.phase is WorkflowPhase.SUCCEEDED, run.state.error
    assert value(kit.engine.outputs(run).literals["y"]) == 6
    node = run.state.nodes["n0"]
    assert node.phase is NodePhase.SUCCEEDED
    assert node.child_execution.startswith("p/d/c")
    running = next(
        e for e in kit.events("node") if e.id.node_id == "n0" and e.workflow_node_metadata.execution_id.name
    )
    assert f"p/d/{running.workflow_node_metadata.execution_id.name}" == node.child_execution
    # The child runs with the parent's settings, as flytepropeller's launch-plan executor passes them on.
    child = kit.engine.state_store.load(node.child_execution)
    assert child is not None
    assert child.options == {
        **options.to_dict(),
        "launch_plan": {"project": "p", "domain": "d", "name": "child_lp", "version": "v1"},
        "parent_execution": run.key,
    }


def test_every_workflow_scope_reports_its_start_and_end_nodes(kit):
    from flyte import subworkflow_node

    echo = task("e", "echo", {"x": INT})
    inner = workflow(
        "inner", [task_node("n0", echo, {"x": wf_input("x")})], {"x": INT}, {"y": INT}, {"y": ref("n0", "x")}
    )
    outer = workflow(
        "outer",
        [subworkflow_node("n0", inner, {"x": wf_input("x")})],
        {"x": INT},
        {"y": INT},
        {"y": ref("n0", "y")},
    )
    run = kit.run(compile_(outer, [echo], [inner]), literal_map(x=integer(4)))
    assert run.state.phase is WorkflowPhase.SUCCEEDED
    events = kit.events("node")
    phases = [(e.id.node_id, _phase(e)) for e in events]
    # Start nodes come first in their scope and succeed at once; end nodes come last, queued then succeeded.
    assert phases[0] == ("start-node", "SUCCEEDED")
    assert phases[-2:] == [("end-node", "QUEUED"), ("end-node", "SUCCEEDED")]
    inner_ids = [node_id for node_id, _ in phases if node_id.startswith("n0-0-")]
    assert inner_ids[0] == "n0-0-start-node" and inner_ids[-1] == "n0-0-end-node"

    def only(node_id, phase):
        return next(e for e in events if e.id.node_id == node_id and _phase(e) == phase)

    start, end = only("start-node", "SUCCEEDED"), only("end-node", "SUCCEEDED")
    assert (start.spec_node_id, start.node_name, start.input_uri) == ("start-node", "start-node", "")
    assert start.output_uri == run.state.inputs_uri
    assert end.input_uri == run.state.outputs_uri and not end.output_uri
    inner_start, inner_end = only("n0-0-start-node", "SUCCEEDED"), only("n0-0-end-node", "SUCCEEDED")
    assert inner_start.parent_node_metadata.node_id == "n0" and inner_start.retry_group == "0"
    assert inner_start.output_uri == run.state.nodes["n0"].inputs_uri
    assert inner_end.input_uri == run.state.nodes["n0"].outputs_uri
    assert (
        value(kit.engine.storage.read_proto(inner_end.input_uri, literals_pb2.LiteralMap).literals["y"]) == 4
    )


def test_a_failed_workflow_reports_its_start_node_but_no_end_node(kit):
    fails = task("fails", "flaky", {"x": INT}, custom={"user": 9})
    wf = workflow(
        "wf", [task_node("n0", fails, {"x": wf_input("x")})], {"x": INT}, {"y": INT}, {"y": ref("n0", "x")}
    )
    run = kit.run(compile_(wf, [fails]), literal_map(x=integer(1)))
    assert run.state.phase is WorkflowPhase.FAILED
    ids = {e.id.node_id for e in kit.events("node")}
    assert "start-node" in ids and "end-node" not in ids
    assert run.state.nodes["start-node"].phase is NodePhase.SUCCEEDED


def _phase(event) -> str:
    return execution_pb2.NodeExecution.Phase.Name(event.phase)
