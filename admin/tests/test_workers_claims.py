"""Engine workers sharing executions: claims, no double evaluation, lease takeover after a worker dies, and
resuming after a restart without running finished nodes again."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml
from conftest import make_settings
from execution_support import engine_section, launch, literal, outputs, running_admin, wait, wait_until
from flyteidl.admin import execution_pb2, node_execution_pb2, signal_pb2, task_execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2
from sqlalchemy import select

from roost_admin.app import AdminApp
from roost_admin.db import models
from roost_admin.workers import WorkerPool

Phase = core_execution_pb2.WorkflowExecution
ROOST_ADMIN = str(Path(sys.executable).parent / "roost-admin")


def start_pool(
    app: AdminApp, count: int, evaluations: list[tuple[str, int, str]], lock: threading.Lock
) -> WorkerPool:
    """Start a pool on ``app`` that records each round it evaluates: (execution, round number, pool)."""
    pool = app.worker_pool(count)
    evaluate = pool.engine.evaluate

    def recording(run):
        with lock:
            evaluations.append((run.key, run.state.rounds, pool.identity))
        return evaluate(run)

    pool.engine.evaluate = recording  # type: ignore[method-assign]
    app.workers = pool
    pool.start()
    return pool


def claimed_by(app: AdminApp, name: str) -> str:
    with app.db.session() as session:
        return session.scalar(select(models.Execution.claimed_by).where(models.Execution.name == name)) or ""


def test_workers_share_executions_and_never_evaluate_one_twice(tmp_path, database_url):
    """SQLite: three worker threads of one pool. PostgreSQL: two pools, as two `roost engine` processes would be."""
    evaluations: list[tuple[str, int, str]] = []
    lock = threading.Lock()
    postgres = database_url.startswith("postgresql")
    quick = {"worker_poll_interval": 0.05, "executions_per_worker": 2, "engine": engine_section()}
    with running_admin(tmp_path, database_url, workers=0, **quick) as (app, admin, _signals):
        engines = [app]
        if postgres:
            other = AdminApp(
                make_settings(
                    tmp_path / "other", database_url, workers=0, data_dir=app.settings.data_dir, **quick
                )
            )
            other.start(serve=False)
            engines.append(other)
        try:
            pools = [start_pool(e, 2 if postgres else 3, evaluations, lock) for e in engines]
            idents = [launch(admin, "pair", x=i, y=i) for i in range(12)]
            for i, ident in enumerate(idents):
                assert wait(admin, ident).closure.phase == Phase.SUCCEEDED
                assert outputs(admin, ident) == {"o0": i + 1, "o1": 2 * i}
        finally:
            for e in engines[1:]:
                e.stop()
    rounds = [(key, number) for key, number, _ in evaluations]
    assert len(rounds) == len(set(rounds)), "a saved state was evaluated twice"
    assert {key for key, _ in rounds} == {f"flytesnacks/development/{i.name}" for i in idents}
    if postgres:
        assert {pool for _, _, pool in evaluations} == {p.identity for p in pools}


def test_a_restarted_admin_resumes_without_rerunning_finished_nodes(tmp_path, database_url):
    log, pid_file = tmp_path / "log", tmp_path / "pid"
    with running_admin(tmp_path, database_url, workers=1) as (_, admin, _signals):
        ident = launch(admin, "noted", log=str(log), path=str(pid_file), seconds=2.0, x=5)
        pid = wait_until(lambda: pid_file.exists() and pid_file.read_text(), 60, "the long task's start")
    # The admin stopped mid-execution; its task process keeps running. A new one takes the execution over.
    with running_admin(tmp_path, database_url, workers=1, register=False) as (_, admin, _signals):
        assert wait(admin, ident).closure.phase == Phase.SUCCEEDED
        assert outputs(admin, ident) == {"o0": 6}
        assert log.read_text() == "ran 5\n"
        assert pid_file.read_text() == pid
        node = identifier_pb2.NodeExecutionIdentifier(node_id="n1", execution_id=ident)
        attempts = admin.ListTaskExecutions(
            task_execution_pb2.TaskExecutionListRequest(node_execution_id=node, limit=10)
        )
        assert [a.id.retry_attempt for a in attempts.task_executions] == [0]


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_dead_workers_executions_are_taken_over_when_its_lease_expires(tmp_path, database_url):
    log, pid_file = tmp_path / "log", tmp_path / "pid"
    settings = {"lease_seconds": 1.5, "worker_poll_interval": 0.1, "engine": engine_section()}
    with running_admin(tmp_path, database_url, workers=0, **settings) as (app, admin, _signals):
        # Its own data folder (another host, as far as identities go), the same database and blob store.
        config = tmp_path / "engine.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "data_dir": str(tmp_path / "engine"),
                    "db_url": database_url,
                    "storage": app.settings.storage_prefix,
                    **settings,
                }
            )
        )
        engine = subprocess.Popen(
            [ROOST_ADMIN, "engine", "--config", str(config), "--workers", "1"],
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / "engine.log").open("w"),
        )
        try:
            ident = launch(admin, "noted", log=str(log), path=str(pid_file), seconds=3.0, x=7)
            pid = wait_until(lambda: pid_file.exists() and pid_file.read_text(), 60, "the long task's start")
            dead = claimed_by(app, ident.name)
            assert dead
            engine.send_signal(signal.SIGKILL)
            engine.wait(10)
        finally:
            if engine.poll() is None:
                engine.kill()
        pool = app.worker_pool(1)
        app.workers = pool
        pool.start()
        assert not dead.startswith(pool.identity)
        wait_until(lambda: claimed_by(app, ident.name).startswith(pool.identity), what="the takeover")
        assert wait(admin, ident).closure.phase == Phase.SUCCEEDED
        assert outputs(admin, ident) == {"o0": 8}
        assert log.read_text() == "ran 7\n"
        assert pid_file.read_text() == pid
        # The worker lets go of the claim in the round after the one that saved the end.
        wait_until(lambda: claimed_by(app, ident.name) == "", 10, "the claim's release")
        nodes = admin.ListNodeExecutions(
            node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=ident, limit=10)
        ).node_executions
        # Each node once, the start node included: the new worker went on from the saved state.
        assert [n.id.node_id for n in nodes] == ["start-node", "n0", "n1", "n2", "end-node"]
        assert [n.closure.phase for n in nodes] == [core_execution_pb2.NodeExecution.SUCCEEDED] * 5


def test_stopping_workers_releases_their_executions(tmp_path, database_url):
    pid_file = tmp_path / "pid"
    with running_admin(tmp_path, database_url, workers=1) as (app, admin, _signals):
        ident = launch(admin, "slow", path=str(pid_file), seconds=60.0, x=1)
        wait_until(lambda: pid_file.exists(), what="the task's start")
        assert app.workers is not None
        assert claimed_by(app, ident.name).startswith(app.workers.identity)
        app.workers.stop()
        app.workers = None
        with app.db.session() as session:
            row = session.scalars(select(models.Execution).where(models.Execution.name == ident.name)).one()
            assert (row.claimed_by, row.lease_until) == ("", None)
            assert row.wake_at is not None  # due at once for whoever comes next
        admin.TerminateExecution(execution_pb2.ExecutionTerminateRequest(id=ident, cause="done here"))
    with running_admin(tmp_path, database_url, workers=1, register=False) as (_, admin, _signals):
        assert wait(admin, ident).closure.phase == Phase.ABORTED


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_changes_made_through_one_admin_reach_workers_in_another_process(tmp_path, database_url):
    """The admin serving RPCs has no workers; an engine process holds the executions and learns of a signal and
    a termination through the database."""
    quick = {"worker_poll_interval": 0.1, "engine": engine_section()}
    with running_admin(tmp_path, database_url, workers=0, **quick) as (app, admin, signals):
        engine = AdminApp(
            make_settings(
                tmp_path / "engine", database_url, data_dir=app.settings.data_dir, workers=1, **quick
            )
        )
        engine.start(serve=False)
        try:
            assert engine.workers is not None
            gated = launch(admin, "gated", x=1)
            (gate,) = wait_until(
                lambda: (
                    signals.ListSignals(
                        signal_pb2.SignalListRequest(workflow_execution_id=gated, limit=10)
                    ).signals
                ),
                what="the gate's signal",
            )
            # Waiting at its gate it is parked (unclaimed); the signal wakes it through the database.
            wait_until(lambda: claimed_by(app, gated.name) == "", what="the waiting execution parked")
            signals.SetSignal(signal_pb2.SignalSetRequest(id=gate.id, value=literal(True)))
            assert wait(admin, gated).closure.phase == Phase.SUCCEEDED
            assert outputs(admin, gated) == {"o0": 4}
            pid_file = tmp_path / "pid"
            slow = launch(admin, "slow", path=str(pid_file), seconds=60.0, x=1)
            wait_until(lambda: pid_file.exists(), what="the task's start")
            assert claimed_by(app, slow.name).startswith(engine.workers.identity)
            admin.TerminateExecution(execution_pb2.ExecutionTerminateRequest(id=slow, cause="from afar"))
            assert wait(admin, slow).closure.phase == Phase.ABORTED
        finally:
            engine.stop()


def test_worker_identities_are_stable_per_host_and_data_folder_and_never_shared(tmp_path, monkeypatch):
    from roost_admin.workers import identity
    from roost_core.errors import RoostError

    first = identity.WorkerIdentity.acquire(tmp_path)
    second = identity.WorkerIdentity.acquire(tmp_path)
    host = socket.gethostname()
    assert (first.name.split(":")[0], first.name[-2:], second.name[-2:]) == (host, ":0", ":1")
    assert first.name[:-2] == second.name[:-2]
    first.release()
    first.release()  # idempotent
    again = identity.WorkerIdentity.acquire(tmp_path)
    assert again.name == first.name  # a restart gets its predecessor's identity back
    elsewhere = identity.WorkerIdentity.acquire(tmp_path / "other")
    assert elsewhere.name[:-2] != first.name[:-2]
    monkeypatch.setattr(identity, "MAX_SLOTS", 2)
    with pytest.raises(RoostError) as raised:
        identity.WorkerIdentity.acquire(tmp_path)
    assert str(raised.value) == (
        f"2 engine worker pools already run on data folder {tmp_path}; give this one its own --data-dir"
    )
    for held in (second, again, elsewhere):
        held.release()
