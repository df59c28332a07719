"""Crash safety of attempt completion: a crash between any two steps of finishing an attempt neither runs the
task again nor loses it, and what a restarted engine needs is removed only once the saved state no longer
needs it. A crash is simulated by an exception at a failpoint (the real process exit is tested in the
admin's crash test)."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import pytest
from flyte import INT, compile_, integer, literal_map, ref, task, task_node, value, wf_input, workflow
from flyteidl.core import tasks_pb2, workflow_pb2

from roost_core.engine import EngineConfig, NodePhase, WorkflowPhase
from roost_core.engine import engine as engine_module
from roost_core.engine.graph import is_start_or_end
from roost_core.engine.nodes import array as array_module
from roost_core.engine.nodes import attempt as attempt_module
from roost_core.engine.state import AttemptRecord, InlineCleanup, PendingCleanup

PROGRAM = str(Path(__file__).with_name("container_task.py"))
FINISHING_STEPS = [
    "attempt.ended",
    "engine.round.before-save",
    "engine.round.after-save",
    "engine.cleanup.before",
    "engine.cleanup.after",
    "engine.round.after-flush",
]


class Crash(BaseException):
    """The engine process dying at a failpoint (a BaseException, so no engine guard catches it)."""


def crash_at(monkeypatch: pytest.MonkeyPatch, point: str) -> None:
    def failpoint(name: str) -> None:
        if name == point:
            raise Crash(name)

    monkeypatch.setattr(engine_module, "failpoint", failpoint)
    monkeypatch.setattr(attempt_module, "failpoint", failpoint)


def container_workflow(mode: str):
    spec = tasks_pb2.Container(
        image="local", command=[sys.executable, PROGRAM, mode], args=["{{.input}}", "{{.outputPrefix}}"]
    )
    t = task(f"proc_{mode}", "container", {"x": INT}, container=spec)
    return compile_(
        workflow(
            "wf", [task_node("n0", t, {"x": wf_input("x")})], {"x": INT}, {"x": INT}, {"x": ref("n0", "x")}
        ),
        [t],
    )


def engine_config(work_dir: Path) -> EngineConfig:
    return EngineConfig(poll_interval=0.05, handlers={"local-process": {"work_dir": str(work_dir)}})


def run_until_the_process_ended(kit, run) -> Path:
    """Evaluate until the attempt's process runs, then wait for it to record its exit; its folder."""
    deadline = time.time() + 20
    while run.state.nodes.get("n0") is None or run.state.nodes["n0"].task is None:
        kit.engine.evaluate(run)
        assert time.time() < deadline
    folder = Path(run.state.nodes["n0"].task.plugin_state["folder"])
    while not (folder / "result.json").exists():
        assert time.time() < deadline, "the task process did not finish"
        time.sleep(0.02)
    return folder


def ended_attempt(kit, tmp_path: Path, mode: str, x: int):
    """A run of a one-task workflow whose task process has ended, the round seeing it not yet evaluated;
    the run and the attempt's folder."""
    kit.engine = kit.new_engine(config=engine_config(tmp_path / "work"))
    run = kit.start(container_workflow(mode), literal_map(x=integer(x)), prefix=tmp_path.as_uri())
    return run, run_until_the_process_ended(kit, run)


def crash_in_next_round(kit, run, monkeypatch: pytest.MonkeyPatch, point: str) -> None:
    crash_at(monkeypatch, point)
    with pytest.raises(Crash):
        kit.engine.evaluate(run)
    monkeypatch.undo()


def resume_to_the_end(kit, run, tmp_path: Path):
    """A new engine picks the run up from its saved state and runs it to its end; the engine and run."""
    fresh = kit.new_engine(config=engine_config(tmp_path / "work"))
    resumed = fresh.resume(run.key)
    fresh.run(resumed, timeout=20)
    assert resumed.state.phase is WorkflowPhase.SUCCEEDED, resumed.state.error
    return fresh, resumed


@pytest.mark.parametrize("point", FINISHING_STEPS)
def test_a_crash_at_any_step_of_finishing_an_attempt_neither_reruns_nor_loses_it(
    kit, tmp_path, monkeypatch, point
):
    run, folder = ended_attempt(kit, tmp_path, "double", 21)
    crash_in_next_round(kit, run, monkeypatch, point)
    saved = kit.store.load(run.key)
    ended = FINISHING_STEPS.index(point) >= FINISHING_STEPS.index("engine.round.after-save")
    assert saved.nodes["n0"].phase is (NodePhase.SUCCEEDED if ended else NodePhase.RUNNING)
    if ended:
        # Saved as ended, with the finalize it owes (run again after the restart: it is idempotent).
        assert [c.attempt.plugin_state["folder"] for c in saved.cleanups] == [str(folder)]
    # The folder holding the process's result outlives every saved state saying it runs.
    assert folder.exists() or ended

    fresh, resumed = resume_to_the_end(kit, run, tmp_path)
    assert value(fresh.outputs(resumed).literals["x"]) == 42
    assert resumed.state.nodes["n0"].attempt == 0
    assert (tmp_path / run.state.name / "n0" / "runs").read_text() == "0\n"  # ran once
    assert resumed.state.cleanups == [] and kit.store.load(run.key).cleanups == []
    assert not folder.exists()


def test_finalize_waits_for_the_save_that_records_the_end(kit, tmp_path, monkeypatch):
    """The round that sees the process's result saves the state before the folder holding it goes."""
    run, folder = ended_attempt(kit, tmp_path, "double", 1)
    seen: list[tuple[str, bool]] = []

    def failpoint(name: str) -> None:
        saved = kit.store.load(run.key)
        seen.append((saved.nodes["n0"].phase.name, folder.exists()))

    monkeypatch.setattr(engine_module, "failpoint", failpoint)
    kit.engine.evaluate(run)
    # before-save, after-save, cleanup before/after, after-flush: the folder outlives every saved "running".
    assert seen == [
        ("RUNNING", True),
        ("SUCCEEDED", True),
        ("SUCCEEDED", True),
        ("SUCCEEDED", False),
        ("SUCCEEDED", False),
    ]


def test_an_abort_is_saved_before_the_process_is_killed_and_redone_after_a_crash(kit, tmp_path, monkeypatch):
    work = tmp_path / "work"
    kit.engine = kit.new_engine(config=engine_config(work))
    run = kit.start(container_workflow("sleep"), literal_map(x=integer(1)), prefix=tmp_path.as_uri())
    deadline = time.time() + 10
    while run.state.nodes.get("n0") is None or run.state.nodes["n0"].phase is not NodePhase.RUNNING:
        kit.engine.evaluate(run)
        assert time.time() < deadline
    pid = run.state.nodes["n0"].task.plugin_state["pid"]
    kit.engine.abort(run, "the user asked")
    crash_in_next_round(kit, run, monkeypatch, "engine.cleanup.before")
    saved = kit.store.load(run.key)
    assert saved.phase is WorkflowPhase.ABORTED
    assert [c.abort_reason for c in saved.cleanups] == ["the user asked"]
    assert _alive(pid), "the abort ran before the state saying so was saved"

    fresh = kit.new_engine(config=engine_config(work))
    fresh.run(fresh.resume(run.key), timeout=10)
    deadline = time.time() + 10
    while _alive(pid):
        assert time.time() < deadline, "the resumed engine did not redo the abort"
        time.sleep(0.05)
    assert kit.store.load(run.key).cleanups == []


def test_a_lost_claim_runs_no_cleanup(kit, tmp_path):
    """A save that fails (another engine took the execution over) leaves the folder to the successor."""
    from roost_core.engine import StateStoreError

    run, folder = ended_attempt(kit, tmp_path, "double", 3)

    class LostClaim:
        def save(self, state):
            raise StateStoreError(f"execution {state.key}: lost its claim")

        def load(self, key):
            return kit.store.load(key)

    kit.engine.state_store = LostClaim()
    with pytest.raises(StateStoreError):
        kit.engine.evaluate(run)
    assert folder.exists()
    successor, resumed = resume_to_the_end(kit, run, tmp_path)
    assert value(successor.outputs(resumed).literals["x"]) == 6
    assert resumed.state.nodes["n0"].attempt == 0
    assert not folder.exists()


def _alive(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().split()[2] not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return False


@pytest.mark.parametrize("point", ["attempt.ended", "engine.cleanup.before", "engine.cleanup.after"])
def test_a_dynamic_task_that_ended_before_a_crash_is_not_run_again(kit, tmp_path, monkeypatch, point):
    """The generated workflow is compiled again from the same futures.pb; the task process ran once."""
    run, folder = ended_attempt(kit, tmp_path, "dynamic", 2)
    crash_in_next_round(kit, run, monkeypatch, point)
    fresh, resumed = resume_to_the_end(kit, run, tmp_path)
    assert value(fresh.outputs(resumed).literals["x"]) == 2
    assert resumed.state.nodes["n0"].attempt == 0
    children = sorted(
        uid for uid in resumed.state.nodes if uid.startswith("n0-") and not is_start_or_end(uid)
    )
    assert children == ["n0-0-dn0", "n0-0-dn1"]
    assert not folder.exists()


def test_an_inline_cleanup_keeps_its_indices_as_runs_through_a_save():
    template = task("t", "container", {"x": INT})
    node = workflow_pb2.Node(id="m")
    owed = InlineCleanup("local-process", template, node, "m", 1, [0, 1, 2, 5, 7, 8])
    data = json.loads(json.dumps(owed.to_dict()))
    assert data["indices"] == [[0, 2], [5, 5], [7, 8]]
    assert InlineCleanup.from_dict(data) == owed


def test_a_cleanup_owed_to_a_handler_no_longer_installed_is_skipped_naming_it(kit, tmp_path, caplog):
    run = kit.start(container_workflow("double"), literal_map(x=integer(1)), prefix=tmp_path.as_uri())
    template = task("t", "container", {"x": INT})
    record = AttemptRecord("gone", template, "n0", 1, "", "", "", "")
    with caplog.at_level(logging.ERROR, logger=attempt_module.__name__):
        attempt_module.clean_up(run, PendingCleanup(record))
        array_module.clean_up(
            run, InlineCleanup("gone", template, workflow_pb2.Node(id="m"), "m", 0, [0, 1, 2])
        )
    assert [record.getMessage() for record in caplog.records] == [
        f"execution {run.key} node n0 attempt 1: handler 'gone' is not installed; its cleanup is skipped",
        f"execution {run.key} node m: handler 'gone' is not installed; the cleanup of 3 inline index(es) is skipped",
    ]
