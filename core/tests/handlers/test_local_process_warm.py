"""Warm task processes of the local-process handler: attempts forked from a fork server, as safe as cold ones."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest
from conftest import MakeHandler
from flyteidl.core import literals_pb2
from program_tasks import PROGRAM, program_task

from roost_core.handler import TaskContext, TaskPhase
from roost_core.handlers import _inline_batches, _warm_pool
from roost_core.handlers._warm_pool import WarmEntry, warm_entry
from roost_core.handlers.local_process import LocalProcessHandler, _AttemptFiles, _spec
from roost_core.testing.driver import Driver, process_gone, wait_until
from roost_core.testing.tasks import TASK_NAME, task_context

CONSOLE_SCRIPT = """#!{python}
# -*- coding: utf-8 -*-
import re
import sys
from {module} import main
if __name__ == '__main__':
    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])
    sys.exit(main())
"""


def write_script(path: Path, module: str = "task_program") -> Path:
    """A console script calling ``module.main``, as an installer writes one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(CONSOLE_SCRIPT.format(python=sys.executable, module=module))
    path.chmod(0o755)
    return path


@pytest.fixture
def script(tmp_path: Path) -> Path:
    """task_program.py behind a console script: eligible for a warm start."""
    return write_script(tmp_path / "bin" / "task-program")


def context(
    root: Path, script: Path, mode: str, *extra: str, outputs: tuple[str, ...] = (), **env: str
) -> TaskContext:
    """An attempt of task_program.py in ``mode``, started through ``script``, its data under ``root``."""
    task_env = {"PYTHONPATH": str(PROGRAM.parent), **env}
    task = program_task(mode, *extra, outputs=outputs, env=task_env, command=[str(script)])
    return task_context(root, task)


def outputs(ctx: TaskContext) -> dict[str, str]:
    found = ctx.storage.read_proto(ctx.outputs_uri, literals_pb2.LiteralMap)
    return {name: lit.scalar.primitive.string_value for name, lit in found.literals.items()}


def servers(handler: LocalProcessHandler) -> list[int]:
    assert handler._pools is not None
    return handler._pools.running()


def server_folder(pid: int) -> Path:
    """The temporary folder fork server ``pid`` was given."""
    for variable in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
        name, _, value = variable.partition(b"=")
        if name == b"TMPDIR":
            return Path(value.decode())
    raise AssertionError(f"server {pid} has no TMPDIR")


def swept(folder: Path) -> bool:
    """Whether a sweep that looks at every server folder, however recent, removed ``folder``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_warm_pool, "_SWEEP_GRACE", 0.0)
        _warm_pool._sweep_server_folders()
    return not folder.exists()


def server_memory_mb(handler: LocalProcessHandler) -> float:
    """The resident memory of the handler's one server."""
    assert handler._pools is not None
    [server] = handler._pools._servers.values()
    return server.memory_mb()


LEAK_MB = 256
"""What the leaking task holds: far more than an interpreter."""


STATE = ("grandparent", "leak", "cwd", "module_leak", "path_leak", "global_leak")


def test_attempts_fork_from_one_server_and_see_none_of_each_others_state(
    tmp_path: Path, handler: LocalProcessHandler, script: Path
) -> None:
    seen = []
    for index in range(3):
        ctx = context(tmp_path / f"a{index}", script, "state", outputs=STATE)
        done = Driver(handler, ctx).until_done()
        assert done.phase is TaskPhase.SUCCESS, done.error
        seen.append(outputs(ctx))
    [server] = servers(handler)
    for state in seen:
        # Each task's parent is its own supervisor, forked from the one server.
        assert state["grandparent"] == str(server)
        # The environment, working folder, modules, sys.path and the globals of the server's own modules
        # changed by the attempt before are not there.
        assert state["leak"] == "<unset>"
        assert state["module_leak"] == "False"
        assert state["path_leak"] == "False"
        assert state["global_leak"] == "[]"
        assert state["cwd"].startswith(str(handler.settings.work_dir))
    assert len({state["cwd"] for state in seen}) == 3


@pytest.mark.parametrize(
    ("mode", "extra", "message"),
    [
        ("signal", (), "killed by signal SIGKILL"),
        ("segfault", (), "killed by signal SIGSEGV"),
        ("hard-exit", ("5",), "code 5"),
    ],
)
def test_a_crash_or_os_exit_fails_only_its_attempt(
    tmp_path: Path,
    handler: LocalProcessHandler,
    script: Path,
    mode: str,
    extra: tuple[str, ...],
    message: str,
) -> None:
    done = Driver(handler, context(tmp_path / "crash", script, mode, *extra)).until_done()
    assert done.phase is TaskPhase.RETRYABLE_FAILURE
    assert done.error is not None and message in done.error.message
    [server] = servers(handler)
    after = context(tmp_path / "after", script, "state", outputs=STATE)
    assert Driver(handler, after).until_done().phase is TaskPhase.SUCCESS
    assert outputs(after)["grandparent"] == str(server)


def test_abort_kills_only_that_attempts_tree(tmp_path: Path, make_handler: MakeHandler, script: Path) -> None:
    handler = make_handler(kill_grace_period="200ms")
    drivers, trees = [], []
    for name in ("one", "two"):
        pids_file = tmp_path / f"{name}.json"
        driver = Driver(handler, context(tmp_path / name, script, "tree", str(pids_file), "stubborn"))
        assert driver.round().phase is TaskPhase.RUNNING
        wait_until(pids_file.exists, "the task to start its child")
        drivers.append(driver)
        trees.append(json.loads(pids_file.read_text()))
    handler.abort(drivers[0].ctx)
    wait_until(lambda: all(process_gone(pid) for pid in trees[0]), "the aborted tree to die")
    assert not any(process_gone(pid) for pid in trees[1])
    [server] = servers(handler)
    assert not process_gone(server)
    handler.abort(drivers[1].ctx)
    wait_until(lambda: all(process_gone(pid) for pid in trees[1]), "the second tree to die")
    # The server the tasks that ignored SIGTERM came from serves the next attempt.
    after = context(tmp_path / "after", script, "state", outputs=STATE)
    assert Driver(handler, after).until_done().phase is TaskPhase.SUCCESS
    assert outputs(after)["grandparent"] == str(server)


def test_memory_a_task_leaks_is_gone_for_the_next_attempt(
    tmp_path: Path, handler: LocalProcessHandler, script: Path
) -> None:
    hog = context(tmp_path / "hog", script, "hog", str(LEAK_MB), outputs=("rss_mb",))
    assert Driver(handler, hog).until_done().phase is TaskPhase.SUCCESS
    assert int(outputs(hog)["rss_mb"]) >= LEAK_MB
    [server] = servers(handler)
    after = context(tmp_path / "after", script, "rss", outputs=("rss_mb", "leaks"))
    assert Driver(handler, after).until_done().phase is TaskPhase.SUCCESS
    assert outputs(after)["leaks"] == "0"
    assert int(outputs(after)["rss_mb"]) < LEAK_MB // 2
    # The same server served it, and did not grow.
    assert servers(handler) == [server]
    assert server_memory_mb(handler) < LEAK_MB // 2


def test_children_a_task_leaves_behind_are_killed_and_the_next_attempt_runs(
    tmp_path: Path, handler: LocalProcessHandler, script: Path
) -> None:
    pids_file = tmp_path / "orphans.json"
    done = Driver(handler, context(tmp_path / "orphans", script, "orphans", str(pids_file))).until_done()
    assert done.phase is TaskPhase.SUCCESS, done.error
    orphans = json.loads(pids_file.read_text())
    wait_until(lambda: all(process_gone(pid) for pid in orphans), "the children left behind to be killed")
    [server] = servers(handler)
    after = context(tmp_path / "after", script, "state", outputs=STATE)
    assert Driver(handler, after).until_done().phase is TaskPhase.SUCCESS
    assert outputs(after)["grandparent"] == str(server)


def test_a_server_beyond_max_memory_is_restarted_before_its_next_attempt(
    tmp_path: Path, make_handler: MakeHandler, script: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Every interpreter holds more than 1 MB: each attempt finds its server over the limit.
    handler = make_handler(warm={"max_memory_mb": 1})
    grandparents = []
    with caplog.at_level(logging.INFO, logger=_warm_pool.__name__):
        for index in range(2):
            ctx = context(tmp_path / f"a{index}", script, "state", outputs=STATE)
            assert Driver(handler, ctx).until_done().phase is TaskPhase.SUCCESS
            grandparents.append(int(outputs(ctx)["grandparent"]))
    assert servers(handler) == [grandparents[1]] and grandparents[0] != grandparents[1]
    assert process_gone(grandparents[0])
    assert "(more than max_memory_mb 1): restarting it" in caplog.text


def test_a_killed_server_is_replaced(tmp_path: Path, handler: LocalProcessHandler, script: Path) -> None:
    assert Driver(handler, context(tmp_path / "a", script, "nothing")).until_done().phase is TaskPhase.SUCCESS
    [killed] = servers(handler)
    os.kill(killed, signal.SIGKILL)
    wait_until(lambda: process_gone(killed), "the server to die")
    after = context(tmp_path / "after", script, "state", outputs=STATE)
    assert Driver(handler, after).until_done().phase is TaskPhase.SUCCESS
    [server] = servers(handler)
    assert server != killed and outputs(after)["grandparent"] == str(server)


def test_restart_reattaches_to_a_warm_attempt(
    tmp_path: Path, make_handler: MakeHandler, script: Path
) -> None:
    handler = make_handler()
    starts, go = tmp_path / "starts.txt", tmp_path / "go"
    ctx = context(tmp_path / "data", script, "wait", str(starts), str(go))
    first = Driver(handler, ctx).round()
    assert first.phase is TaskPhase.RUNNING and first.state is not None
    wait_until(starts.exists, "the task to start")
    # The engine stops (its servers with it) and a new one takes over, with and without the saved state.
    handler.close()
    restarted = Driver(make_handler(), dataclasses.replace(ctx, state=first.state))
    assert restarted.round().phase is TaskPhase.RUNNING
    assert Driver(make_handler(), ctx).round().phase is TaskPhase.RUNNING
    go.touch()
    done = restarted.until_done()
    assert done.phase is TaskPhase.SUCCESS, done.error
    assert len(starts.read_text().splitlines()) == 1


def test_pools_are_bounded_and_expire_when_idle(tmp_path: Path, make_handler: MakeHandler) -> None:
    handler = make_handler(warm={"max_environments": 1, "idle_timeout": "300ms"})
    scripts = [write_script(tmp_path / name / "bin" / "task-program") for name in ("env1", "env2")]
    pids = []
    for index, script in enumerate(scripts):
        # Different PYTHONPATHs: two environments, two servers.
        ctx = context(
            tmp_path / f"a{index}", script, "nothing", PYTHONPATH=f"{PROGRAM.parent}:{script.parent}"
        )
        assert Driver(handler, ctx).until_done().phase is TaskPhase.SUCCESS
        pids.append(servers(handler))
    assert len(pids[0]) == len(pids[1]) == 1 and pids[0] != pids[1]
    wait_until(lambda: process_gone(pids[0][0]), "the evicted server to stop")
    wait_until(lambda: not servers(handler) and process_gone(pids[1][0]), "the idle server to stop")


def test_the_entry_modules_warm_up_runs_once_before_attempts_fork(
    tmp_path: Path, handler: LocalProcessHandler
) -> None:
    script = write_script(tmp_path / "bin" / "warmed", module="warmed_program")
    log = tmp_path / "warm-ups.txt"
    seen = []
    for index in range(3):
        ctx = context(tmp_path / f"a{index}", script, "warmed", outputs=("warmed_in",), WARM_UP_LOG=str(log))
        assert Driver(handler, ctx).until_done().phase is TaskPhase.SUCCESS
        seen.append(outputs(ctx)["warmed_in"])
    [server] = servers(handler)
    assert seen == [str([server])] * 3
    assert log.read_text().split() == [str(server)]


def test_an_environment_slow_to_start_holds_up_only_its_own_attempts(
    tmp_path: Path, handler: LocalProcessHandler, script: Path
) -> None:
    slow_script = write_script(tmp_path / "bin" / "warmed", module="warmed_program")
    importing, done = tmp_path / "importing", tmp_path / "imported"
    slow = context(
        tmp_path / "slow", slow_script, "nothing", WARM_UP_LOG=str(importing), WARM_UP_UNTIL=str(done)
    )
    waiting = threading.Thread(target=lambda: Driver(handler, slow).until_done())
    waiting.start()
    try:
        wait_until(importing.exists, "the slow environment's server never started importing")
        # Another environment starts warm, and its attempt ends, while the first still imports.
        other = context(tmp_path / "other", script, "state", outputs=STATE)
        assert Driver(handler, other).until_done().phase is TaskPhase.SUCCESS
        assert not done.exists()
    finally:
        done.touch()
        waiting.join(timeout=60)
    assert len(servers(handler)) == 2


def test_each_attempt_draws_fresh_randomness_from_generators_made_before_the_fork(
    tmp_path: Path, handler: LocalProcessHandler
) -> None:
    script = write_script(tmp_path / "bin" / "warmed", module="warmed_program")
    log = tmp_path / "warm-ups.txt"
    drawn = []
    for index in range(3):
        ctx = context(tmp_path / f"a{index}", script, "draw", outputs=("drawn",), WARM_UP_LOG=str(log))
        assert Driver(handler, ctx).until_done().phase is TaskPhase.SUCCESS
        drawn.append(outputs(ctx)["drawn"])
    assert len(servers(handler)) == 1
    # Forked copies of one generator would draw the same number (flytekit's random file names collided so).
    assert len(set(drawn)) == 3, drawn


def test_each_attempt_finds_its_own_temporary_folder_or_the_one_its_environment_names(
    tmp_path: Path, handler: LocalProcessHandler, script: Path
) -> None:
    first, second = tmp_path / "tmp-first", tmp_path / "tmp-second"
    first.mkdir()
    second.mkdir()
    named_folders = [first, None, second, first, None]
    found, expected = [], []
    for index, folder in enumerate(named_folders):
        named = {"TMPDIR": str(folder)} if folder else {}
        ctx = context(tmp_path / f"a{index}", script, "tempdir", outputs=("tempdir",), **named)
        expected.append(str(folder or _AttemptFiles.for_attempt(ctx, handler.settings).temp))
        driver = Driver(handler, ctx)
        assert driver.until_done().phase is TaskPhase.SUCCESS
        found.append(outputs(ctx)["tempdir"])
        handler.finalize(driver.ctx)
    # One server (with a temporary folder of its own, not the first attempt's) served them all; an attempt's own
    # folder went with it.
    assert len(servers(handler)) == 1
    assert found == expected
    own = [temp for temp, folder in zip(found, named_folders, strict=True) if folder is None]
    assert not any(Path(temp).exists() for temp in own)


def test_a_warm_up_that_fails_leaves_attempts_to_cold_starts(
    tmp_path: Path, handler: LocalProcessHandler, caplog: pytest.LogCaptureFixture
) -> None:
    script = write_script(tmp_path / "bin" / "warmed", module="warmed_program")
    ctx = context(tmp_path / "a", script, "warmed", outputs=("warmed_in",), WARM_UP_FAIL="1")
    with caplog.at_level(logging.WARNING, logger=_warm_pool.__name__):
        assert Driver(handler, ctx).until_done().phase is TaskPhase.SUCCESS
    # Cold, the entry module is imported but nothing calls its warm-up.
    assert outputs(ctx)["warmed_in"] == "[]"
    assert "RuntimeError: the warm-up broke" in caplog.text
    assert servers(handler) == []


def test_a_broken_environment_fails_attempts_with_its_import_error_and_the_pool_backs_off(
    tmp_path: Path,
    handler: LocalProcessHandler,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The entry module imports a package the environment lacks.
    code = tmp_path / "code"
    code.mkdir()
    (code / "broken_runtime.py").write_text(
        "import roost_missing_dependency\nfrom task_program import main\n"
    )
    broken = write_script(tmp_path / "bin" / "broken", module="broken_runtime")

    def attempt(name: str) -> TaskContext:
        return context(tmp_path / name, broken, "state", outputs=STATE, PYTHONPATH=f"{PROGRAM.parent}:{code}")

    with caplog.at_level(logging.WARNING, logger=_warm_pool.__name__):
        for name in ("a", "b"):
            done = Driver(handler, attempt(name)).until_done()
            # Cold, the script fails itself with the import error, which the failure shows with the task.
            assert done.phase is TaskPhase.RETRYABLE_FAILURE
            assert done.error is not None
            assert f"task {TASK_NAME!r} exited with code 1" in done.error.message
            assert "No module named 'roost_missing_dependency'" in done.error.message
    # One try to start the server, then cold starts for a while instead of a try per attempt.
    assert caplog.text.count("could not start; its attempts start cold") == 1
    assert servers(handler) == []
    # Once the environment is mended and the back-off is over, the pool starts again.
    (code / "roost_missing_dependency.py").write_text("")
    monkeypatch.setattr(_warm_pool, "START_BACKOFF", 0.0)
    mended = attempt("c")
    assert Driver(handler, mended).until_done().phase is TaskPhase.SUCCESS
    [server] = servers(handler)
    assert outputs(mended)["grandparent"] == str(server)


def test_a_server_whose_temporary_folder_cannot_be_made_leaves_attempts_to_cold_starts(
    tmp_path: Path,
    handler: LocalProcessHandler,
    script: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def full(prefix: str) -> str:  # the engine's temporary folder's disk is full
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tempfile, "mkdtemp", full)
    ctx = context(tmp_path / "a", script, "state", outputs=STATE)
    with caplog.at_level(logging.WARNING, logger=_warm_pool.__name__):
        assert Driver(handler, ctx).until_done().phase is TaskPhase.SUCCESS
    assert (
        "could not start; its attempts start cold for 60 s: "
        "cannot make its temporary folder: [Errno 28] No space left on device"
    ) in caplog.text
    assert servers(handler) == []
    assert outputs(ctx)["grandparent"] == str(os.getpid())  # a cold supervisor's parent is the engine


def test_switches_make_attempts_start_cold(
    tmp_path: Path, make_handler: MakeHandler, script: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = make_handler()
    ctx = context(tmp_path / "task", script, "state", outputs=STATE, ROOST_WARM_PROCESS="0")
    assert Driver(handler, ctx).until_done().phase is TaskPhase.SUCCESS
    assert servers(handler) == []
    assert outputs(ctx)["grandparent"] == str(os.getpid())  # a cold supervisor's parent is the engine
    for cold in (make_handler(warm={"enabled": False}), _with_env(monkeypatch, make_handler)):
        assert cold._pools is None
        ctx = context(tmp_path / f"cold{id(cold)}", script, "nothing")
        assert Driver(cold, ctx).until_done().phase is TaskPhase.SUCCESS


def _with_env(monkeypatch: pytest.MonkeyPatch, make_handler: MakeHandler) -> LocalProcessHandler:
    monkeypatch.setenv("ROOST_WARM_PROCESSES", "0")
    return make_handler()


def test_only_console_scripts_with_absolute_paths_are_eligible(tmp_path: Path, script: Path) -> None:
    env = {"PATH": str(script.parent), "PYTHONPATH": str(PROGRAM.parent)}
    expected = WarmEntry(sys.executable, str(PROGRAM.parent), "task_program", "main", str(script))
    assert warm_entry(["task-program", "x"], env) == expected
    assert warm_entry([sys.executable, str(PROGRAM)], env) is None  # an interpreter, not a console script
    assert warm_entry(["task-program"], {**env, "PYTHONPATH": "relative/code"}) is None
    assert warm_entry(["task-program"], {**env, "ROOST_WARM_PROCESS": "0"}) is None
    assert warm_entry(["missing-command"], env) is None
    shell = tmp_path / "bin" / "shell-script"
    shell.write_text("#!/bin/sh\nexit 0\n")
    shell.chmod(0o755)
    assert warm_entry([str(shell)], env) is None


def test_an_environments_servers_log_to_one_file_across_engine_processes_kept_under_its_limit(
    tmp_path: Path, make_handler: MakeHandler, script: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = WarmEntry(sys.executable, str(PROGRAM.parent), "task_program", "main", str(script))
    # Engine processes hash strings with seeds of their own: the name must not depend on the seed.
    program = (
        "import sys; from roost_core.handlers._warm_pool import WarmEntry, log_name; "
        "print(log_name(WarmEntry(*sys.argv[1:])))"
    )
    names = {
        subprocess.run(
            [sys.executable, "-c", program, *dataclasses.astuple(entry)],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert names == {_warm_pool.log_name(entry)}
    monkeypatch.setattr(_warm_pool, "LOG_LIMIT", 100)
    log = tmp_path / "work" / "warm-pools" / _warm_pool.log_name(entry)
    log.parent.mkdir(parents=True)
    log.write_bytes(b"x" * 101)  # what earlier servers of this environment wrote, past the limit
    for index in range(2):  # two engines, one after the other
        handler = make_handler()
        ctx = context(tmp_path / f"a{index}", script, "nothing")
        assert Driver(handler, ctx).until_done().phase is TaskPhase.SUCCESS
        assert servers(handler)
        handler.close()
    assert log.with_name(f"{log.name}.1").read_bytes() == b"x" * 101
    assert log.exists() and log.stat().st_size <= 100
    assert sorted(path.name for path in log.parent.iterdir()) == [log.name, f"{log.name}.1"]


def test_closing_the_handler_stops_its_servers(
    tmp_path: Path, handler: LocalProcessHandler, script: Path
) -> None:
    assert Driver(handler, context(tmp_path, script, "nothing")).until_done().phase is TaskPhase.SUCCESS
    [server] = servers(handler)
    handler.close()
    wait_until(lambda: process_gone(server), "the server to exit")
    # A closed handler still runs attempts, cold.
    ctx = context(tmp_path / "late", script, "state", outputs=STATE)
    assert Driver(handler, ctx).until_done().phase is TaskPhase.SUCCESS
    assert outputs(ctx)["grandparent"] == str(os.getpid())
    assert servers(handler) == []


def test_a_servers_temporary_folder_goes_when_it_stopped_and_nothing_it_started_runs(
    tmp_path: Path, handler: LocalProcessHandler, script: Path
) -> None:
    starts, go = tmp_path / "starts", tmp_path / "go"
    running = Driver(handler, context(tmp_path / "running", script, "wait", str(starts), str(go)))
    assert running.round().phase is TaskPhase.RUNNING
    wait_until(starts.exists, "the task to start")
    [server] = servers(handler)
    folder = server_folder(server)
    # Its own, in the engine's temporary folder: what it makes there (flytekit's sandboxes at import) goes with it.
    assert folder.parent == Path(tempfile.gettempdir())
    assert folder.name.startswith(f"roost-{os.getuid()}-warm-")
    (folder / "made-at-import").mkdir()
    handler.close()
    wait_until(lambda: process_gone(server), "the server to exit")
    # The attempt it started outlives it and may still use the folder.
    assert not swept(folder)
    assert (folder / "made-at-import").is_dir()
    go.touch()
    assert running.until_done().phase is TaskPhase.SUCCESS
    wait_until(lambda: swept(folder), "the sweep to remove the folder once the attempt's processes ended")


def test_a_sweep_leaves_a_server_folder_that_just_changed(tmp_path: Path) -> None:
    # A folder is locked right after it is made: until then a sweep by another engine must not take it for dead.
    fresh = Path(tempfile.mkdtemp(prefix=f"roost-{os.getuid()}-warm-", dir=tmp_path))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tempfile, "tempdir", str(tmp_path))
        _warm_pool._sweep_server_folders()
        assert fresh.is_dir()
        patch.setattr(_warm_pool, "_SWEEP_GRACE", 0.0)
        _warm_pool._sweep_server_folders()
        assert not fresh.exists()


CODED = ("imported_in", "grandparent", "who")


def coded(root: Path, name: str, code: str, **env: str) -> TaskContext:
    """An attempt of coded_program.py's task of ``code`` (its code's imports logged to ``root/imports.log``)."""
    script = write_script(root / "bin" / "coded", module="coded_program")
    log = str(root / "imports.log")
    return context(root / name, script, "code", "--code", code, outputs=CODED, CODE_IMPORT_LOG=log, **env)


def imports(root: Path) -> list[int]:
    """The pids of the processes that imported coded_program.py's code."""
    log = root / "imports.log"
    return [int(line) for line in log.read_text().split()] if log.exists() else []


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])


def run_coded(handler: LocalProcessHandler, root: Path, name: str, code: str, **env: str) -> dict[str, str]:
    """Run an attempt of ``code`` to its end; what it saw."""
    ctx = coded(root, name, code, WHO=name, **env)
    assert Driver(handler, ctx).until_done().phase is TaskPhase.SUCCESS
    seen = outputs(ctx)
    assert seen["who"] == name  # its own environment, whoever imported the code
    return seen


def code_child(handler: LocalProcessHandler, root: Path, code: str) -> int:
    """Run attempts of ``code`` until one comes from the child that imported it; that child's pid."""
    tried = len(list(root.glob(f"{code}-*")))  # an earlier call's attempts keep their folders
    for index in range(tried, tried + 100):
        seen = run_coded(handler, root, f"{code}-{index}", code)
        if seen["imported_in"] != "<not imported>":
            child = int(seen["imported_in"])
            assert seen["grandparent"] == str(child)  # its supervisor was forked by that child
            return child
    raise AssertionError(f"no attempt of code {code!r} came from a child that imported it")


def test_attempts_of_one_code_start_from_a_child_that_imported_it_once(
    tmp_path: Path, handler: LocalProcessHandler
) -> None:
    first = run_coded(handler, tmp_path, "first", "one")
    [server] = servers(handler)
    # The first attempt of a code comes from the server while the code's child imports it.
    assert first == {"imported_in": "<not imported>", "grandparent": str(server), "who": "first"}
    child = code_child(handler, tmp_path, "one")
    assert parent_of(child) == server
    again = run_coded(handler, tmp_path, "again", "one")
    assert (again["imported_in"], again["grandparent"]) == (str(child), str(child))
    assert imports(tmp_path) == [child]  # once, with the first attempt's environment
    # Another code gets a child of its own; attempts without a code still come from the server.
    other = code_child(handler, tmp_path, "two")
    assert other != child and sorted(imports(tmp_path)) == sorted([child, other])
    plain = context(
        tmp_path / "plain",
        write_script(tmp_path / "bin" / "coded", module="coded_program"),
        "code",
        outputs=CODED,
        CODE_IMPORT_LOG=str(tmp_path / "imports.log"),
    )
    assert Driver(handler, plain).until_done().phase is TaskPhase.SUCCESS
    assert outputs(plain)["grandparent"] == str(server)


def test_a_server_keeps_a_child_for_its_two_most_recent_codes(
    tmp_path: Path, handler: LocalProcessHandler
) -> None:
    children = [code_child(handler, tmp_path, code) for code in ("one", "two", "three")]
    wait_until(lambda: process_gone(children[0]), "the least recently used code's child to end")
    assert not process_gone(children[1]) and not process_gone(children[2])


@pytest.mark.parametrize(
    "trouble", [{"CODE_IMPORT_FAIL": "1"}, {"CODE_IMPORT_MB": "300"}], ids=["import fails", "too large"]
)
def test_a_code_its_child_cannot_hold_leaves_its_attempts_to_the_server(
    tmp_path: Path, make_handler: MakeHandler, trouble: dict[str, str]
) -> None:
    handler = make_handler(warm={"max_memory_mb": 200})
    run_coded(handler, tmp_path, "first", "one", **trouble)
    [server] = servers(handler)
    wait_until(lambda: len(imports(tmp_path)) == 1, "the code's child to try its import")
    [child] = imports(tmp_path)
    wait_until(lambda: process_gone(child), "the code's child to give up")
    for index in range(5):  # not tried again: each attempt comes from the server
        seen = run_coded(handler, tmp_path, f"after-{index}", "one", **trouble)
        assert (seen["imported_in"], seen["grandparent"]) == ("<not imported>", str(server))
    assert imports(tmp_path) == [child]


def test_a_killed_code_child_is_replaced(tmp_path: Path, handler: LocalProcessHandler) -> None:
    child = code_child(handler, tmp_path, "one")
    os.kill(child, signal.SIGKILL)
    wait_until(lambda: process_gone(child), "the code's child to die")
    replaced = code_child(handler, tmp_path, "one")
    assert replaced != child and imports(tmp_path) == [child, replaced]


def test_a_batch_child_gets_each_environment_as_the_changes_from_the_one_before(
    tmp_path: Path, handler: LocalProcessHandler, script: Path
) -> None:
    # A node's inline runner sends its batch child each spec's environment as the changes from the last one sent.
    environments = [
        {"KEPT": "same", "GONE": "here", "CHANGED": "first"},
        {"KEPT": "same", "CHANGED": "second"},
        {"KEPT": "same", "GONE": "back", "CHANGED": "second"},
    ]
    names = ("KEPT", "GONE", "CHANGED")
    contexts = [
        context(tmp_path / f"a{index}", script, "env", *names, outputs=names, **env)
        for index, env in enumerate(environments)
    ]
    assert handler._pools is not None
    runner = _inline_batches.NodeRunner(handler, handler._pools, _inline_batches.NodeRunners())
    lane = None
    for ctx in contexts:
        files = _AttemptFiles.for_attempt(ctx, handler.settings)
        spec = _spec(ctx, handler.settings, files)
        assert isinstance(spec, dict)
        entry = warm_entry(spec["argv"], spec["env"])
        assert entry is not None
        lane = lane or runner._open_lane(entry, spec["env"], ctx)
        assert lane is not None
        sent = _inline_batches._Sent(ctx, files, lane)
        assert runner._send(sent, spec)
        while ctx.node_id not in runner.held:  # one attempt at a time per child: read until its report came
            runner._read(lane)
        outcome = runner.held.pop(ctx.node_id)
        assert isinstance(outcome, tuple) and outcome[1].phase is TaskPhase.SUCCESS, outcome
    runner.close()
    seen = [outputs(ctx) for ctx in contexts]
    assert seen == [{name: env.get(name, "<unset>") for name in names} for env in environments]
