"""Property-based tests: random DAGs of quick and failing tasks under random policies."""

from __future__ import annotations

import pathlib

from conftest import EngineKit
from flyte import INT, compile_, integer, literal_map, ref, task, task_node, wf_input, workflow
from flyteidl.core import execution_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roost_core.engine import ExecutionOptions, WorkflowPhase

ECHO = task("echo_t", "echo", {"x": INT})
FAILS = task("fails", "flaky", {"x": INT}, custom={"user": 9})
RETRIES = task("retries", "flaky", {"x": INT}, custom={"user": 1, "system": 1}, retries=1)

_RANK = {
    execution_pb2.NodeExecution.QUEUED: 1,
    execution_pb2.NodeExecution.RUNNING: 2,
    execution_pb2.NodeExecution.DYNAMIC_RUNNING: 3,
    execution_pb2.NodeExecution.SUCCEEDED: 5,
    execution_pb2.NodeExecution.FAILING: 6,
    execution_pb2.NodeExecution.FAILED: 7,
    execution_pb2.NodeExecution.SKIPPED: 8,
    execution_pb2.NodeExecution.TIMED_OUT: 10,
    execution_pb2.NodeExecution.ABORTED: 11,
}


@st.composite
def dags(draw):
    size = draw(st.integers(1, 25))
    kinds = draw(st.lists(st.sampled_from([ECHO, ECHO, ECHO, RETRIES, FAILS]), min_size=size, max_size=size))
    nodes = []
    for i, kind in enumerate(kinds):
        parents = draw(st.lists(st.integers(0, i - 1), max_size=3, unique=True)) if i else []
        source = ref(f"n{parents[0]}", "x") if parents else wf_input("x")
        nodes.append(task_node(f"n{i}", kind, {"x": source}, upstream=[f"n{p}" for p in parents[1:]]))
    fail_late = draw(st.booleans())
    parallelism = draw(st.sampled_from([None, 1, 3]))
    return nodes, fail_late, parallelism


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(dags())
def test_every_node_ends_no_phase_goes_back_and_events_are_unique(tmp_path: pathlib.Path, dag):
    nodes, fail_late, parallelism = dag
    kit = EngineKit(tmp_path)
    closure = compile_(workflow("random", nodes, {"x": INT}, fail_late=fail_late), [ECHO, FAILS, RETRIES])
    run = kit.run(closure, literal_map(x=integer(1)), options=ExecutionOptions(max_parallelism=parallelism))

    assert run.state.phase.is_terminal
    ended = run.state.phase is WorkflowPhase.SUCCEEDED
    assert set(run.state.nodes) == {n.id for n in nodes} | {"start-node"} | ({"end-node"} if ended else set())
    assert all(node.phase.is_terminal for node in run.state.nodes.values())
    assert run.active_attempts == 0, "the in-flight count drifted"
    failed = any(node.phase.name == "FAILED" for node in run.state.nodes.values())
    assert (run.state.phase is WorkflowPhase.FAILED) == failed

    ids = [event.id for event in kit.sink.events]
    assert len(ids) == len(set(ids))
    by_node: dict[str, list] = {}
    for event in kit.events("node"):
        by_node.setdefault(event.id.node_id, []).append(event)
    for node_events in by_node.values():
        ranks = [_RANK[e.phase] for e in node_events]
        assert ranks == sorted(ranks)
        assert len(ranks) == len(set(ranks))
        times = [e.occurred_at.ToNanoseconds() for e in node_events]
        assert times == sorted(times)
    by_attempt: dict[tuple[str, int], list] = {}
    for event in kit.events("task"):
        by_attempt.setdefault((event.parent_node_execution_id.node_id, event.retry_attempt), []).append(event)
    for attempt_events in by_attempt.values():
        terminal = [
            e
            for e in attempt_events
            if e.phase
            in (
                execution_pb2.TaskExecution.SUCCEEDED,
                execution_pb2.TaskExecution.FAILED,
                execution_pb2.TaskExecution.RETRYABLE_FAILED,
                execution_pb2.TaskExecution.ABORTED,
            )
        ]
        assert len(terminal) == 1
        assert attempt_events[-1] is terminal[0]
