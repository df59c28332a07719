"""A map's indices on the local-process handler with warm processes: started in batches by warm batch children
(several indices per child, each index still a process of its own with its own attempt folder), with the map's
contract (outputs in order, a failure per index, aborts, restarts) unchanged."""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flyte import INT, ints, literal_map, task, value
from flyteidl.core import execution_pb2, tasks_pb2
from test_crash_safety import Crash
from test_map_and_dynamic import map_workflow

from roost_core.engine import Engine, EngineConfig, NodePhase, WorkflowPhase
from roost_core.engine import engine as engine_module
from roost_core.handlers import _inline_batches
from roost_core.handlers.local_process import INLINE_LANES
from roost_core.testing.driver import process_gone

PROGRAM = Path(__file__).with_name("container_task.py")
CONSOLE_SCRIPT = """#!{python}
import sys
from container_task import main
if __name__ == '__main__':
    sys.exit(main())
"""


@pytest.fixture
def mapped(tmp_path: Path) -> tasks_pb2.TaskTemplate:
    """container_task.py's ``map`` mode behind a console script (eligible for a warm start)."""
    script = tmp_path / "bin" / "container-task"
    script.parent.mkdir()
    script.write_text(CONSOLE_SCRIPT.format(python=sys.executable))
    script.chmod(0o755)
    env = {
        "PYTHONPATH": str(PROGRAM.parent),
        "MAP_RUNS": str(tmp_path / "runs"),
        "MAP_GO": str(tmp_path / "go"),
        "WARM_TASK_LOG": str(tmp_path / "warmed"),
    }
    spec = tasks_pb2.Container(
        image="local",
        command=[str(script), "map"],
        args=["{{.input}}", "{{.outputPrefix}}"],
        env=[{"key": key, "value": value} for key, value in env.items()],
    )
    return task("mapped", "container", {"x": INT}, container=spec)


def new_engine(kit, tmp_path: Path, **settings: object) -> Engine:
    """An engine whose local-process handler keeps its attempt folders under ``tmp_path``, with more ``settings``."""
    handler = {"work_dir": str(tmp_path / "work"), **settings}
    return kit.new_engine(config=EngineConfig(poll_interval=0.05, handlers={"local-process": handler}))


@pytest.fixture
def engine(kit, tmp_path: Path) -> Iterator[Engine]:
    kit.engine = new_engine(kit, tmp_path)
    yield kit.engine
    kit.engine.close()


def runs(tmp_path: Path) -> list[tuple[int, ...]]:
    """(x, pid, parent pid, grandparent pid) of each index process that ran, in the order they started."""
    path = tmp_path / "runs"
    lines = path.read_text().splitlines() if path.exists() else []
    return [tuple(int(field) for field in line.split()) for line in lines]


def index_phases(kit) -> dict[int, str]:
    last = {}
    for event in kit.events("task"):
        if event.parent_node_execution_id.node_id == "m":
            for resource in event.metadata.external_resources:
                last[resource.index] = execution_pb2.TaskExecution.Phase.Name(resource.phase)
    return last


def until(condition, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_indices_run_in_batches_of_warm_processes_once_each(kit, engine, mapped, tmp_path):
    xs = range(100, 140)
    run = kit.start(map_workflow(mapped), literal_map(xs=ints(xs)), prefix=tmp_path.as_uri())
    engine.run(run, timeout=60)
    assert run.state.phase is WorkflowPhase.SUCCEEDED, run.state.error
    assert value(engine.outputs(run).literals["ys"]) == [2 * x for x in xs]
    ran = runs(tmp_path)
    assert sorted(x for x, _pid, *_ in ran) == list(xs), "an index ran twice, or not at all"
    assert len({pid for _x, pid, *_ in ran}) == 40, "each index is a process of its own"
    # Several indices per batch child (their parent), and no ordinary attempt with rounds of its own.
    children = {parent for _x, _pid, parent, _grandparent in ran}
    assert len(children) <= INLINE_LANES and os.getpid() not in children
    subnodes = run.state.nodes["m"].subnodes
    assert all(sub.task is None and sub.attempt == 0 for sub in subnodes)
    assert index_phases(kit) == dict.fromkeys(range(40), "SUCCEEDED")
    # Each index's outputs are where its process wrote them, for an engine that resumes (not written again).
    assert all(kit.storage.exists(sub.outputs_uri) for sub in subnodes)
    # Each index's folder is gone once the state holding its outcome was saved.
    assert not attempt_folders(tmp_path)


def attempt_folders(tmp_path: Path) -> list[Path]:
    """The attempt folders left in the handler's work folder."""
    return [entry for entry in (tmp_path / "work").iterdir() if entry.name not in ("trash", "warm-pools")]


def warm_task_log(tmp_path: Path) -> list[list[str]]:
    """The lines container_task's ``__roost_warm_task__`` and what it returns wrote, split into fields."""
    path = tmp_path / "warmed"
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


def warmed(tmp_path: Path) -> list[tuple[int, str, str]]:
    """(pid, MAP_RUNS, first argument) of each call of container_task's ``__roost_warm_task__``."""
    return [(int(pid), runs, mode) for pid, runs, mode in (f for f in warm_task_log(tmp_path) if len(f) == 3)]


def batches_ended(tmp_path: Path) -> list[int]:
    """The pids that called what container_task's ``__roost_warm_task__`` returned."""
    return [int(pid) for _ended, pid in (f for f in warm_task_log(tmp_path) if len(f) == 2)]


def test_each_batch_child_imports_the_task_once_with_the_attempts_environment(kit, engine, mapped, tmp_path):
    run = kit.start(map_workflow(mapped), literal_map(xs=ints(range(100, 130))), prefix=tmp_path.as_uri())
    engine.run(run, timeout=60)
    assert run.state.phase is WorkflowPhase.SUCCEEDED, run.state.error
    children = {parent for _x, _pid, parent, _grandparent in runs(tmp_path)}
    calls = warmed(tmp_path)
    # Once in each batch child that started indices, before them, with the environment and command line they got.
    assert sorted(pid for pid, _runs, _mode in calls) == sorted(children)
    assert {(runs, mode) for _pid, runs, mode in calls} == {(str(tmp_path / "runs"), "map")}
    # What it returned is called once by each batch child when its batch ends (not by the indices' processes).
    engine.close()
    until(lambda: len(batches_ended(tmp_path)) == len(children), "a batch child ended without its cleanup")
    assert sorted(batches_ended(tmp_path)) == sorted(children)


@pytest.mark.parametrize("mode", ["raise", "hang"])
def test_a_warm_task_import_that_fails_or_hangs_leaves_the_import_to_each_attempt(
    kit, mapped, tmp_path, mode
):
    mapped.container.env.add(key="WARM_TASK_MODE", value=mode)
    # A hang is given up after the pool's start timeout (short here; the server's own start must fit in it).
    engine = kit.engine = new_engine(kit, tmp_path, warm={"start_timeout": 5})
    run = kit.start(map_workflow(mapped), literal_map(xs=ints(range(100, 104))), prefix=tmp_path.as_uri())
    engine.run(run, timeout=60)
    assert run.state.phase is WorkflowPhase.SUCCEEDED, run.state.error
    assert value(engine.outputs(run).literals["ys"]) == [200, 202, 204, 206]
    children = {parent for _x, _pid, parent, _grandparent in runs(tmp_path)}
    assert os.getpid() not in children, "the indices ran as ordinary attempts, not in batches"
    assert {pid for pid, _runs, _mode in warmed(tmp_path)} == children
    engine.close()


@pytest.mark.parametrize("warm", ["1", "0"])
def test_a_crash_in_one_index_fails_that_index_only(kit, mapped, tmp_path, monkeypatch, warm):
    monkeypatch.setenv("ROOST_WARM_PROCESSES", warm)
    engine = kit.engine = new_engine(kit, tmp_path)
    closure = map_workflow(mapped, min_success_ratio=0.5)
    run = kit.start(closure, literal_map(xs=ints(range(10, 20))), prefix=tmp_path.as_uri())
    engine.run(run, timeout=60)
    assert run.state.phase is WorkflowPhase.SUCCEEDED, run.state.error
    assert value(engine.outputs(run).literals["ys"]) == [20, 22, 24, None, 28, 30, 32, 34, 36, 38]
    crashed = run.state.nodes["m"].subnodes[3]
    assert crashed.phase is NodePhase.FAILED
    assert (crashed.error.code, crashed.error.message) == (
        "KilledBySignal",
        "node 'm' index 3: task 'mapped' was killed by signal SIGKILL (9); stderr was empty",
    )
    phases = index_phases(kit)
    # As an ordinary attempt reports it: a process killed is a retryable failure, here with no retry left.
    assert phases.pop(3) == "RETRYABLE_FAILED"
    assert phases == dict.fromkeys([0, 1, 2, 4, 5, 6, 7, 8, 9], "SUCCEEDED")
    assert sorted(x for x, _pid, *_ in runs(tmp_path)) == list(range(10, 20))
    engine.close()


@pytest.mark.parametrize("warm", ["1", "0"])
def test_an_index_whose_outputs_do_not_parse_fails_that_index_naming_the_task_and_the_blob(
    kit, mapped, tmp_path, monkeypatch, warm
):
    monkeypatch.setenv("ROOST_WARM_PROCESSES", warm)
    # No retry, so that the index's one attempt is the one reported: inline (a batch child's) when warm.
    handlers = {"local-process": {"work_dir": str(tmp_path / "work")}}
    config = EngineConfig(poll_interval=0.05, max_system_retries=0, handlers=handlers)
    engine = kit.engine = kit.new_engine(config=config)
    closure = map_workflow(mapped, min_success_ratio=0.5)
    run = kit.start(closure, literal_map(xs=ints([20, 22, 24, 26, 28, 21, 30, 32])), prefix=tmp_path.as_uri())
    engine.run(run, timeout=60)
    engine.close()
    # What the task wrote is at fault, not the storage: its index fails, the node does not.
    assert run.state.phase is WorkflowPhase.SUCCEEDED, run.state.error
    assert value(engine.outputs(run).literals["ys"]) == [40, 44, 48, 52, 56, None, 60, 64]
    unreadable = run.state.nodes["m"].subnodes[5]
    assert unreadable.phase is NodePhase.FAILED
    assert unreadable.error.code == "OutputsUnreadable", unreadable.error
    blob = f"{tmp_path.as_uri()}/e1/m/5/0/outputs.pb"
    assert unreadable.error.message.startswith(
        f"node 'm' index 5: task 'mapped': cannot read its outputs: '{blob}' is not a valid flyteidl.core.LiteralMap: "
    ), unreadable.error.message


@pytest.mark.parametrize("warm", ["1", "0"])
def test_processes_an_index_started_out_of_its_group_end_with_it(kit, mapped, tmp_path, monkeypatch, warm):
    monkeypatch.setenv("ROOST_WARM_PROCESSES", warm)
    escaped = tmp_path / "escaped"
    mapped.container.env.add(key="MAP_ESCAPED", value=str(escaped))
    engine = kit.engine = new_engine(kit, tmp_path)
    run = kit.start(map_workflow(mapped), literal_map(xs=ints(range(30, 42))), prefix=tmp_path.as_uri())
    engine.run(run, timeout=60)
    engine.close()
    assert run.state.phase is WorkflowPhase.SUCCEEDED, run.state.error
    pids = [int(pid) for pid in escaped.read_text().split()]
    assert len(pids) == 12
    until(
        lambda: all(process_gone(pid) for pid in pids),
        "a process an index started in its own session outlived it",
    )


@pytest.mark.parametrize("warm", ["1", "0"])
def test_no_index_starts_once_the_node_can_no_longer_succeed(kit, mapped, tmp_path, monkeypatch, warm):
    monkeypatch.setenv("ROOST_WARM_PROCESSES", warm)
    engine = kit.engine = new_engine(kit, tmp_path)
    # One at a time, so that which indices ran before one failed is certain.
    run = kit.start(
        map_workflow(mapped, parallelism=1), literal_map(xs=ints([10, 11, 13, 14])), prefix=tmp_path.as_uri()
    )
    engine.run(run, timeout=60)
    engine.close()
    assert run.state.phase is WorkflowPhase.FAILED
    assert [x for x, _pid, *_ in runs(tmp_path)] == [10, 11, 13]
    assert run.state.nodes["m"].subnodes[3].phase is NodePhase.NOT_YET_STARTED


def started(tmp_path: Path, x: int) -> bool:
    return any(ran == x for ran, _pid, *_ in runs(tmp_path))


def resume_to_the_end(
    kit, tmp_path: Path, run, xs: range, *, after_first_round: Callable[[], None] = lambda: None
) -> None:
    """A new engine resumes ``run`` and runs it to its end, calling ``after_first_round`` between its first round
    and the rest: the map succeeds with every x doubled, each index having run once."""
    fresh = new_engine(kit, tmp_path)
    try:
        resumed = fresh.resume(run.key)
        fresh.evaluate(resumed)
        after_first_round()
        fresh.run(resumed, timeout=60)
    finally:
        fresh.close()
    assert resumed.state.phase is WorkflowPhase.SUCCEEDED, resumed.state.error
    assert value(fresh.outputs(resumed).literals["ys"]) == [2 * x for x in xs]
    assert sorted(x for x, _pid, *_ in runs(tmp_path)) == list(xs), "an index ran twice, or not at all"


def test_a_restarted_engine_finds_indices_still_running_and_runs_none_again(kit, engine, mapped, tmp_path):
    run = kit.start(map_workflow(mapped), literal_map(xs=ints(range(12))), prefix=tmp_path.as_uri())
    until(
        lambda: engine.evaluate(run) and started(tmp_path, 7) and len(runs(tmp_path)) == 12, "indices started"
    )
    assert run.state.nodes["m"].subnodes[7].phase is NodePhase.NOT_YET_STARTED
    engine.close()  # the engine stops: its batch children are let go of, index 7 runs on

    resume_to_the_end(kit, tmp_path, run, range(12), after_first_round=(tmp_path / "go").touch)


def test_a_runner_let_go_of_while_idle_picks_its_indices_up_again(kit, engine, mapped, tmp_path, monkeypatch):
    monkeypatch.setattr(_inline_batches, "INLINE_IDLE", 0.05)
    run = kit.start(map_workflow(mapped), literal_map(xs=ints(range(12))), prefix=tmp_path.as_uri())
    until(lambda: engine.evaluate(run) and started(tmp_path, 7), "index 7 started")
    runners = engine.handlers.for_task_type("container")._runners
    until(lambda: not runners.runners, "the idle runner was not let go of")
    (tmp_path / "go").touch()
    engine.run(run, timeout=60)
    assert value(engine.outputs(run).literals["ys"]) == [2 * x for x in range(12)]
    assert sorted(x for x, _pid, *_ in runs(tmp_path)) == list(range(12)), "an index ran twice"
    assert all(sub.task is None for sub in run.state.nodes["m"].subnodes), "an index took an ordinary attempt"


def test_aborting_the_execution_kills_indices_still_running(kit, engine, mapped, tmp_path):
    run = kit.start(map_workflow(mapped), literal_map(xs=ints(range(12))), prefix=tmp_path.as_uri())
    until(lambda: engine.evaluate(run) and started(tmp_path, 7), "index 7 started")
    pid = next(pid for x, pid, *_ in runs(tmp_path) if x == 7)
    engine.abort(run, "the user asked")
    engine.run(run, timeout=30)
    assert run.state.phase is WorkflowPhase.ABORTED
    assert run.state.nodes["m"].subnodes[7].phase is NodePhase.ABORTED
    until(lambda: process_gone(pid), "the aborted index's process still runs")


@pytest.mark.parametrize("keep_logs", [False, True])
def test_an_aborted_index_that_ignores_sigterm_is_killed_after_the_grace_period(
    kit, mapped, tmp_path, keep_logs
):
    mapped.container.env.add(key="MAP_IGNORE_TERM", value="1")
    # The aborted index is finalized at once: its folder goes, or all of it but its logs.
    engine = kit.engine = new_engine(kit, tmp_path, kill_grace_period=0.5, keep_logs=keep_logs)
    run = kit.start(map_workflow(mapped), literal_map(xs=ints(range(12))), prefix=tmp_path.as_uri())
    until(lambda: engine.evaluate(run) and started(tmp_path, 7), "index 7 started")
    pid, parent = next((pid, parent) for x, pid, parent, _ in runs(tmp_path) if x == 7)
    assert parent != os.getpid(), "index 7 is not an inline index"
    engine.abort(run, "the user asked")
    engine.run(run, timeout=30)
    assert run.state.phase is WorkflowPhase.ABORTED
    until(lambda: process_gone(pid), "the index that ignores SIGTERM still runs", 10)
    engine.close()


def test_a_mapped_task_that_turns_out_dynamic_fails_its_index_naming_it(kit, engine, mapped, tmp_path):
    mapped.container.args[:] = ["dynamic", *mapped.container.args]
    del mapped.container.command[1:]  # container_task.py's dynamic mode: it writes futures.pb
    run = kit.start(map_workflow(mapped), literal_map(xs=ints([1])), prefix=tmp_path.as_uri())
    engine.run(run, timeout=60)
    assert run.state.phase is WorkflowPhase.FAILED
    error = run.state.nodes["m"].subnodes[0].error
    assert (error.code, error.message) == (
        "DynamicInMap",
        "node 'm' index 0: task 'mapped': a mapped task cannot be dynamic",
    )


def test_with_warm_processes_off_indices_are_ordinary_attempts(kit, mapped, tmp_path, monkeypatch):
    monkeypatch.setenv("ROOST_WARM_PROCESSES", "0")
    kit.engine = new_engine(kit, tmp_path)
    try:
        run = kit.start(map_workflow(mapped), literal_map(xs=ints(range(4))), prefix=tmp_path.as_uri())
        kit.engine.run(run, timeout=60)
    finally:
        kit.engine.close()
    assert value(kit.engine.outputs(run).literals["ys"]) == [0, 2, 4, 6]
    assert all(sub.task is not None for sub in run.state.nodes["m"].subnodes)
    # Each supervisor started cold, by the handler in this process.
    assert {grandparent for _x, _pid, _parent, grandparent in runs(tmp_path)} == {os.getpid()}


@pytest.mark.parametrize("point", ["engine.round.after-save", "engine.cleanup.after-inline"])
def test_indices_that_ended_inline_are_finalized_by_the_engine_that_resumes_when_this_one_died_first(
    kit, mapped, tmp_path, monkeypatch, point
):
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))  # where the indices' temporary folders go
    engine = kit.engine = new_engine(kit, tmp_path)
    run = kit.start(map_workflow(mapped), literal_map(xs=ints(range(6))), prefix=tmp_path.as_uri())

    def failpoint(name: str) -> None:
        if name == point and kit.store.load(run.key).inline_cleanups:
            raise Crash(name)

    monkeypatch.setattr(engine_module, "failpoint", failpoint)
    try:
        with pytest.raises(Crash):
            engine.run(run, timeout=60)
    finally:
        engine.close()
    monkeypatch.setattr(engine_module, "failpoint", lambda name: None)
    saved = kit.store.load(run.key)
    owed = [index for cleanup in saved.inline_cleanups for index in cleanup.indices]
    # The saved state records the indices' outcomes and the finalize they are owed.
    assert owed and all(saved.nodes["m"].subnodes[index].phase is NodePhase.SUCCEEDED for index in owed)

    resume_to_the_end(kit, tmp_path, run, range(6))
    assert kit.store.load(run.key).inline_cleanups == []
    # Nothing of any index is left: neither its attempt folder nor its temporary folder.
    assert not attempt_folders(tmp_path)
    assert not [entry for entry in temp.iterdir() if re.fullmatch(r"roost-\d+-[0-9a-f]{16}", entry.name)]
