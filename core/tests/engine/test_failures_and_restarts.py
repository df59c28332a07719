"""Retries, timeouts, aborts, resuming from saved state, and local processes under the engine."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from flyte import (
    INT,
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
from flyteidl.core import execution_pb2, tasks_pb2

from roost_core.engine import NodePhase, WorkflowPhase
from roost_core.errors import ErrorKind

ECHO = task("echo_t", "echo", {"x": INT})
PROGRAM = str(Path(__file__).with_name("container_task.py"))


def single(t, **node_args):
    return compile_(
        workflow(
            "wf",
            [task_node("n0", t, {"x": wf_input("x")}, **node_args)],
            {"x": INT},
            {"y": INT},
            {"y": ref("n0", "x")},
        ),
        [t],
    )


def task_attempts(kit, node_id="n0"):
    return [
        (e.retry_attempt, execution_pb2.TaskExecution.Phase.Name(e.phase))
        for e in kit.events("task")
        if e.parent_node_execution_id.node_id == node_id
    ]


def test_user_errors_use_the_tasks_retries(kit):
    run = kit.run(
        single(task("f", "flaky", {"x": INT}, custom={"user": 2}, retries=2)), literal_map(x=integer(1))
    )
    assert run.state.phase is WorkflowPhase.SUCCEEDED
    assert task_attempts(kit) == [(0, "RETRYABLE_FAILED"), (1, "RETRYABLE_FAILED"), (2, "SUCCEEDED")]


def test_user_retries_run_out(kit):
    run = kit.run(
        single(task("f", "flaky", {"x": INT}, custom={"user": 5}, retries=1)), literal_map(x=integer(1))
    )
    assert run.state.phase is WorkflowPhase.FAILED
    error = run.state.nodes["n0"].error
    assert (error.code, error.kind) == ("RetriesExhausted|Boom", ErrorKind.USER)
    assert error.message == "node 'n0': user failure 1 (gave up after 2 attempt(s))"


def test_system_errors_have_their_own_budget(kit):
    flaky = task("f", "flaky", {"x": INT}, custom={"user": 1, "system": 3}, retries=1)
    run = kit.run(single(flaky), literal_map(x=integer(1)))
    assert run.state.phase is WorkflowPhase.SUCCEEDED
    node = run.state.nodes["n0"]
    assert (node.attempt, node.system_failures) == (4, 3)
    run = kit.run(single(task("f", "flaky", {"x": INT}, custom={"system": 4})), literal_map(x=integer(1)))
    assert run.state.nodes["n0"].error.code == "RetriesExhausted|NodeLost"
    assert run.state.nodes["n0"].error.kind is ErrorKind.SYSTEM


def test_node_retries_override_the_tasks(kit):
    flaky = task("f", "flaky", {"x": INT}, custom={"user": 2}, retries=0)
    run = kit.run(single(flaky, retries=2), literal_map(x=integer(1)))
    assert run.state.phase is WorkflowPhase.SUCCEEDED


def test_an_attempt_over_its_execution_timeout_is_retried_then_fails(kit):
    slow = task("slow", "sleep", {"x": INT}, custom={"duration": 30}, timeout=0.1, retries=1)
    run = kit.run(slow_workflow(slow), literal_map(x=integer(1)), timeout=10)
    assert run.state.phase is WorkflowPhase.FAILED
    error = run.state.nodes["n0"].error
    assert error.code in ("RetriesExhausted|TimeoutExpired", "ActiveTimeoutExpired")
    assert [a for a, _ in task_attempts(kit)][-1] == 1


def test_the_active_deadline_ends_the_node_for_good(kit):
    slow = task("slow", "sleep", {"x": INT}, custom={"duration": 30}, timeout=0.15, retries=5)
    run = kit.run(slow_workflow(slow), literal_map(x=integer(1)), timeout=10)
    node = run.state.nodes["n0"]
    assert node.phase is NodePhase.TIMED_OUT
    assert (
        node.error.message
        == "task 'slow' on node 'n0': timed out after 0.3s (active deadline, retries included)"
    )
    assert node.attempt == 1
    assert run.state.phase is WorkflowPhase.FAILED
    assert execution_pb2.NodeExecution.TIMED_OUT in [e.phase for e in kit.events("node")]


def slow_workflow(t):
    return compile_(workflow("wf", [task_node("n0", t, {"x": wf_input("x")})], {"x": INT}), [t])


def container(mode, **task_args):
    spec = tasks_pb2.Container(
        image="local", command=[sys.executable, PROGRAM, mode], args=["{{.input}}", "{{.outputPrefix}}"]
    )
    return task(f"proc_{mode}", "container", {"x": INT}, container=spec, **task_args)


def test_a_local_process_task_end_to_end(kit, tmp_path):
    run = kit.run(single(container("double")), literal_map(x=integer(21)), prefix=tmp_path.as_uri())
    assert run.state.phase is WorkflowPhase.SUCCEEDED, run.state.error
    assert value(kit.engine.outputs(run).literals["y"]) == 42


def test_a_dynamic_local_process_task_generates_and_runs_its_workflow(kit, tmp_path):
    run = kit.run(single(container("dynamic")), literal_map(x=integer(3)), prefix=tmp_path.as_uri())
    assert run.state.phase is WorkflowPhase.SUCCEEDED, run.state.error
    assert value(kit.engine.outputs(run).literals["y"]) == 3
    assert sorted(uid for uid in run.state.nodes if uid.startswith("n0-")) == [
        "n0-0-dn0",
        "n0-0-dn1",
        "n0-0-dn2",
        "n0-0-end-node",
        "n0-0-start-node",
    ]


def test_abort_mid_run_kills_the_process_and_ends_aborted(kit, tmp_path):
    run = kit.start(single(container("sleep")), literal_map(x=integer(1)), prefix=tmp_path.as_uri())
    deadline = time.time() + 10
    while run.state.nodes.get("n0") is None or run.state.nodes["n0"].phase is not NodePhase.RUNNING:
        kit.engine.evaluate(run)
        assert time.time() < deadline
    pid = run.state.nodes["n0"].task.plugin_state["pid"]
    os.kill(pid, 0)
    kit.engine.abort(run, "the user asked")
    kit.engine.run(run, timeout=10)
    assert run.state.phase is WorkflowPhase.ABORTED
    assert run.state.nodes["n0"].phase is NodePhase.ABORTED
    assert task_attempts(kit)[-1] == (0, "ABORTED")
    deadline = time.time() + 10
    while _alive(pid):
        assert time.time() < deadline, "the task process outlived the abort"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().split()[2] if Path(f"/proc/{pid}/stat").exists() else "X"
    return state not in ("Z", "X")


def test_a_new_engine_resumes_from_the_saved_state_without_rerunning_succeeded_nodes(kit):
    counting = task("c", "counting-echo", {"x": INT})
    gated = task("g", "gate", {"x": INT})
    nodes = [
        task_node("a", counting, {"x": wf_input("x")}),
        task_node("b", counting, {"x": ref("a", "x")}),
        task_node("wait", gated, {"x": ref("b", "x")}),
        task_node("c", counting, {"x": ref("wait", "x")}),
    ]
    closure = compile_(workflow("wf", nodes, {"x": INT}, {"y": INT}, {"y": ref("c", "x")}), [counting, gated])
    run = kit.start(closure, literal_map(x=integer(8)))
    for _ in range(3):
        kit.engine.evaluate(run)
    assert kit.handlers.counting.calls == {"a": 1, "b": 1}
    saved_after_round = run.state.rounds

    fresh = kit.new_engine()
    resumed = fresh.resume(run.key)
    assert resumed.state.rounds == saved_after_round
    assert resumed.state.nodes["wait"].phase is NodePhase.RUNNING
    kit.handlers.gate.open.set()
    fresh.run(resumed, timeout=10)
    assert resumed.state.phase is WorkflowPhase.SUCCEEDED
    assert value(fresh.outputs(resumed).literals["y"]) == 8
    assert kit.handlers.counting.calls == {"a": 1, "b": 1, "c": 1}
    ids = [e.id for e in kit.sink.events]
    assert len(ids) == len(set(ids))


def test_a_local_process_survives_an_engine_restart(kit, tmp_path):
    run = kit.start(single(container("double")), literal_map(x=integer(2)), prefix=tmp_path.as_uri())
    kit.engine.evaluate(run)
    fresh = kit.new_engine()
    resumed = fresh.resume(run.key)
    fresh.run(resumed, timeout=20)
    assert resumed.state.phase is WorkflowPhase.SUCCEEDED, resumed.state.error
    assert value(fresh.outputs(resumed).literals["y"]) == 4
    assert resumed.state.nodes["n0"].attempt == 0


class BrokenWrites:
    """A mem:// store whose writes under ``broken`` fail while ``failing`` is set."""

    def __init__(self, inner, broken: str) -> None:
        self.inner = inner
        self.broken = broken
        self.failing = True

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def write(self, uri, data):
        from roost_core.storage import StorageError

        if self.failing and self.broken in uri:
            raise StorageError(f"cannot write {uri!r}: disk full")
        self.inner.write(uri, data)


def test_a_storage_error_is_retried_then_fails_the_node_by_name(kit):
    from roost_core.storage import Storage

    broken = BrokenWrites(kit.memory, "/b/")
    kit.storage = Storage({"mem": broken})
    kit.engine = kit.new_engine()
    nodes = [task_node("a", ECHO, {"x": wf_input("x")}), task_node("b", ECHO, {"x": ref("a", "x")})]
    closure = compile_(workflow("wf", nodes, {"x": INT}), [ECHO])
    run = kit.run(closure, literal_map(x=integer(1)))
    assert run.state.phase is WorkflowPhase.FAILED
    error = run.state.nodes["b"].error
    assert (error.code, error.kind) == ("StorageError", ErrorKind.SYSTEM)
    assert error.message == "node 'b': cannot write 'mem://data/e1/b/inputs.pb': disk full"
    assert run.state.nodes["a"].phase is NodePhase.SUCCEEDED
    assert kit.store.load(run.key).to_dict() == run.state.to_dict()


def test_a_storage_error_that_clears_up_loses_nothing(kit):
    from roost_core.storage import Storage

    broken = BrokenWrites(kit.memory, "/b/")
    kit.storage = Storage({"mem": broken})
    kit.engine = kit.new_engine()
    nodes = [task_node("a", ECHO, {"x": wf_input("x")}), task_node("b", ECHO, {"x": ref("a", "x")})]
    closure = compile_(workflow("wf", nodes, {"x": INT}, {"y": INT}, {"y": ref("b", "x")}), [ECHO])
    run = kit.start(closure, literal_map(x=integer(5)))
    kit.engine.evaluate(run)
    kit.engine.evaluate(run)
    assert "b" in run.state.nodes
    assert run.state.nodes["b"].phase is NodePhase.NOT_YET_STARTED
    broken.failing = False
    kit.engine.run(run, timeout=5)
    assert value(kit.engine.outputs(run).literals["y"]) == 5


class FlakyStore:
    """A state store that fails its first ``failures`` saves."""

    def __init__(self, inner, failures: int) -> None:
        self.inner = inner
        self.failures = failures

    def save(self, state):
        from roost_core.engine import StateStoreError

        if self.failures:
            self.failures -= 1
            raise StateStoreError(f"cannot save state of execution {state.key!r}: connection reset")
        self.inner.save(state)

    def load(self, key):
        return self.inner.load(key)


def test_a_failed_save_delivers_no_events_and_the_run_carries_on(kit):
    flaky = FlakyStore(kit.store, failures=0)
    kit.engine = kit.new_engine(state_store=flaky)
    run = kit.start(
        compile_(workflow("wf", [task_node("a", ECHO, {"x": wf_input("x")})], {"x": INT}), [ECHO]),
        literal_map(x=integer(1)),
    )
    flaky.failures = 2
    import pytest

    from roost_core.engine import StateStoreError

    with pytest.raises(StateStoreError):
        kit.engine.evaluate(run)
    assert kit.sink.events == []
    kit.engine.run(run, timeout=5)
    assert run.state.phase is WorkflowPhase.SUCCEEDED
    assert kit.store.load(run.key).phase is WorkflowPhase.SUCCEEDED
    ids = [e.id for e in kit.sink.events]
    assert len(ids) == len(set(ids))
