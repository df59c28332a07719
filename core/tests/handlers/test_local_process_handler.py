"""The local-process handler, driven round by round against real child processes."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import MakeHandler
from flyteidl.core import literals_pb2, tasks_pb2
from program_tasks import PROGRAM, program_task

import roost_core.builtin
from roost_core.container import task_environment
from roost_core.errors import ErrorKind, ExecutionError, SettingsError
from roost_core.handler import TaskContext, TaskPhase
from roost_core.handlers._supervise import process_start_time, write_json_atomically
from roost_core.handlers.local_process import LocalProcessHandler, _AttemptFiles
from roost_core.testing.driver import Driver, process_gone, wait_until
from roost_core.testing.harness import build_handler
from roost_core.testing.tasks import integer, task_context, task_execution_id, task_template


def outputs_of(ctx: TaskContext) -> literals_pb2.LiteralMap:
    return ctx.storage.read_proto(ctx.outputs_uri, literals_pb2.LiteralMap)


def strings(outputs: literals_pb2.LiteralMap) -> dict[str, str]:
    return {name: lit.scalar.primitive.string_value for name, lit in outputs.literals.items()}


def test_success_with_outputs_and_logs(tmp_path: Path, handler: LocalProcessHandler) -> None:
    task = program_task("add", inputs=["a", "b"], outputs=["sum"])
    ctx = task_context(
        tmp_path, task, inputs=literals_pb2.LiteralMap(literals={"a": integer(2), "b": integer(40)})
    )
    driver = Driver(handler, ctx)
    first = driver.round()
    assert first.phase is TaskPhase.RUNNING
    assert [log.name for log in first.logs] == ["stdout", "stderr"]
    assert all(log.uri.startswith("file:///") for log in first.logs)

    done = driver.until_done()
    assert done.phase is TaskPhase.SUCCESS, done.error
    assert outputs_of(ctx) == literals_pb2.LiteralMap(literals={"sum": integer(42)})
    stdout = Path(done.logs[0].uri[len("file://") :])
    assert stdout.read_text() == "adding up to 42\n"


def test_engines_sharing_the_work_dir_keep_same_named_attempts_apart(
    tmp_path: Path, handler: LocalProcessHandler
) -> None:
    # Two servers on one machine: each has its own blob store, both use the default work_dir, and both
    # run an execution called exec1.
    task = program_task("add", inputs=["a", "b"], outputs=["sum"])
    drivers = [
        Driver(
            handler,
            task_context(
                tmp_path / store,
                task,
                inputs=literals_pb2.LiteralMap(literals={"a": integer(a), "b": integer(40)}),
            ),
        )
        for store, a in (("one", 1), ("two", 2))
    ]
    assert [driver.round().phase for driver in drivers] == [TaskPhase.RUNNING, TaskPhase.RUNNING]
    for driver, total in zip(drivers, (41, 42), strict=True):
        done = driver.until_done()
        assert done.phase is TaskPhase.SUCCESS, done.error
        assert outputs_of(driver.ctx) == literals_pb2.LiteralMap(literals={"sum": integer(total)})


def test_notify_is_called_when_the_process_exits(tmp_path: Path, handler: LocalProcessHandler) -> None:
    driver = Driver(handler, task_context(tmp_path, program_task("nothing")))
    assert driver.round().phase is TaskPhase.RUNNING
    assert driver.woken.wait(60), "the handler never called ctx.notify"
    assert driver.round().phase is TaskPhase.SUCCESS


def test_every_template_variable_reaches_the_process(tmp_path: Path, handler: LocalProcessHandler) -> None:
    container = tasks_pb2.Container(
        image="tests/image:1",
        command=[sys.executable, str(PROGRAM)],
        args=[
            "args",
            "{{ .Input }}",
            "{{.outputPrefix}}",
            "{{.inputPrefix}}",
            "{{.rawOutputDataPrefix}}",
            "{{.checkpointOutputPrefix}}",
            "{{.prevCheckpointPrefix}}",
            "{{.perRetryUniqueKey}}",
            "--n={{.Inputs.n}}",
            "{{.taskTemplatePath}}",
            "{{ .unknown }}",
        ],
    )
    task = task_template("raw-container", container=container)
    ctx = task_context(tmp_path, task, attempt=1, inputs=literals_pb2.LiteralMap(literals={"n": integer(9)}))
    done = Driver(handler, ctx).until_done()
    assert done.phase is TaskPhase.SUCCESS, done.error
    outputs = outputs_of(ctx)
    items = outputs.literals["argv"].collection.literals
    argv = [lit.scalar.primitive.string_value for lit in items]
    node_dir = f"file://{tmp_path}/data/exec1/n0"
    assert argv[1:] == [
        "args",
        f"{node_dir}/inputs.pb",
        f"{node_dir}/1",
        node_dir,
        f"{tmp_path}/data/raw/exec1-n0-1",
        f"{node_dir}/1/_checkpoints",
        f"{node_dir}/0/_checkpoints",
        "exec1_n0_1",
        "--n=9",
        f"{node_dir}/task.pb",
        "{{ .unknown }}",
    ]
    assert ctx.storage.read_proto(f"{node_dir}/task.pb", tasks_pb2.TaskTemplate) == task
    # The process runs in a working folder of its own, inside the attempt's folder.
    cwd = outputs.literals["cwd"].scalar.primitive.string_value
    assert Path(cwd).parent.parent == tmp_path / "work"


def test_an_unknown_input_variable_fails_permanently(tmp_path: Path, handler: LocalProcessHandler) -> None:
    task = program_task("nothing", "{{.Inputs.missing}}")
    transition = handler.handle(task_context(tmp_path, task))
    assert transition.phase is TaskPhase.PERMANENT_FAILURE
    assert transition.error == ExecutionError(
        "BadTaskSpecification",
        "task 'tests.my_task': argument '{{.Inputs.missing}}' uses {{.Inputs.missing}}, but the "
        "task has no input 'missing' (inputs: none)",
        ErrorKind.USER,
    )


def test_environment_layers(tmp_path: Path, handler: LocalProcessHandler, make_handler: MakeHandler) -> None:
    names = [
        "FLYTE_INTERNAL_EXECUTION_ID",
        "_F_NM",
        "FLYTE_INTERNAL_TASK_VERSION",
        "_F_TK_V",
        "FLYTE_ATTEMPT_NUMBER",
        "A",
        "B",
        "C",
        "HOME",
    ]
    task = program_task("env", *names, env={"A": "container", "B": "container"})
    environment = task_environment(task_execution_id(), container_env=task.container.env)
    environment |= {"B": "engine", "C": "engine"}
    ctx = task_context(tmp_path, task, environment=environment)
    handler = make_handler(task_environment={"env": {"C": "config"}})
    done = Driver(handler, ctx).until_done()
    assert done.phase is TaskPhase.SUCCESS, done.error
    assert strings(outputs_of(ctx)) == {
        "FLYTE_INTERNAL_EXECUTION_ID": "exec1",
        "_F_NM": "exec1",
        "FLYTE_INTERNAL_TASK_VERSION": "v7",
        "_F_TK_V": "v7",
        "FLYTE_ATTEMPT_NUMBER": "0",
        "A": "container",
        "B": "engine",
        "C": "config",
        "HOME": os.environ.get("HOME", "<unset>"),
    }


def test_drop_env_keeps_the_engines_variables_from_the_task(
    tmp_path: Path, handler: LocalProcessHandler, monkeypatch: pytest.MonkeyPatch, make_handler: MakeHandler
) -> None:
    monkeypatch.setenv("ROOST_DB_URL", "postgresql://admin:secret@db/roost")
    monkeypatch.setenv("PGPASSWORD", "secret")
    monkeypatch.setenv("KEPT", "engine")
    names = ("ROOST_DB_URL", "PGPASSWORD", "KEPT", "ROOST_FAIL_ON_ERROR")
    task = program_task("env", *names, env={"ROOST_FAIL_ON_ERROR": "true"})
    ctx = task_context(tmp_path, task)
    handler = make_handler(task_environment={"drop_env": ["ROOST_*", "PG*"]})
    done = Driver(handler, ctx).until_done()
    assert done.phase is TaskPhase.SUCCESS, done.error
    # The container's own variables still reach the task; the engine's matching ones do not.
    assert strings(outputs_of(ctx)) == {
        "ROOST_DB_URL": "<unset>",
        "PGPASSWORD": "<unset>",
        "KEPT": "engine",
        "ROOST_FAIL_ON_ERROR": "true",
    }


def test_image_environments_pick_the_interpreter(
    tmp_path: Path, handler: LocalProcessHandler, make_handler: MakeHandler
) -> None:
    environment = tmp_path / "envs" / "image-a"
    (environment / "bin").mkdir(parents=True)
    tool = environment / "bin" / "roost-test-tool"
    tool.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{PROGRAM}" "$@"\n')
    tool.chmod(0o755)
    handler = make_handler(image_environments={"registry.example/image:a": str(environment)})
    task = program_task(
        "env", "PATH", "VIRTUAL_ENV", image="registry.example/image:a", command=["roost-test-tool"]
    )
    ctx = task_context(tmp_path, task)
    done = Driver(handler, ctx).until_done()
    assert done.phase is TaskPhase.SUCCESS, done.error
    seen = strings(outputs_of(ctx))
    assert seen["PATH"].split(os.pathsep)[0] == str(environment / "bin")
    assert seen["VIRTUAL_ENV"] == str(environment)

    other = program_task("env", "PATH", image="registry.example/image:b")
    ctx = task_context(tmp_path, other, execution="exec2")
    done = Driver(handler, ctx).until_done()
    assert done.phase is TaskPhase.SUCCESS, done.error
    assert strings(outputs_of(ctx))["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)


@pytest.mark.parametrize(
    ("dest_dir", "expected"), [("/root", "<work>"), ("relative/code", "relative/code"), (".", ".")]
)
def test_fast_execute_unpacks_into_the_attempt_folder(
    tmp_path: Path, handler: LocalProcessHandler, dest_dir: str, expected: str, make_handler: MakeHandler
) -> None:
    environment = tmp_path / "envs" / "fast"
    (environment / "bin").mkdir(parents=True)
    recorded = tmp_path / "fast-args.txt"
    tool = environment / "bin" / "pyflyte-fast-execute"
    tool.write_text(f'#!/bin/sh\necho "$@" > "{recorded}"\nshift 5\nexec "$@"\n')
    tool.chmod(0o755)
    handler = make_handler(image_environments={"fast:1": str(environment)})
    command = [
        "pyflyte-fast-execute",
        "--additional-distribution",
        "file:///code.tgz",
        "--dest-dir",
        dest_dir,
    ]
    task = program_task("nothing", image="fast:1", command=[*command, "--", sys.executable, str(PROGRAM)])
    ctx = task_context(tmp_path, task)
    done = Driver(handler, ctx).until_done()
    assert done.phase is TaskPhase.SUCCESS, done.error
    work = _AttemptFiles.for_attempt(ctx, handler.settings).cwd
    args = recorded.read_text().split()
    assert args[3] == expected.replace("<work>", str(work))


@pytest.mark.parametrize(
    ("origin", "kind", "phase", "error_kind"),
    [
        ("USER", "RECOVERABLE", TaskPhase.RETRYABLE_FAILURE, ErrorKind.USER),
        ("USER", "NON_RECOVERABLE", TaskPhase.PERMANENT_FAILURE, ErrorKind.USER),
        ("SYSTEM", "RECOVERABLE", TaskPhase.RETRYABLE_FAILURE, ErrorKind.SYSTEM),
        ("SYSTEM", "NON_RECOVERABLE", TaskPhase.PERMANENT_FAILURE, ErrorKind.SYSTEM),
    ],
)
@pytest.mark.parametrize("exit_code", ["0", "1"])
def test_error_document_wins_over_the_exit_code(
    tmp_path: Path,
    handler: LocalProcessHandler,
    *,
    origin: str,
    kind: str,
    phase: TaskPhase,
    error_kind: ErrorKind,
    exit_code: str,
) -> None:
    ctx = task_context(tmp_path, program_task("error", origin, kind, exit_code, outputs=["o0"]))
    done = Driver(handler, ctx).until_done()
    assert done.phase is phase
    assert done.error == ExecutionError(
        "USER:RuntimeError", "the user code failed", error_kind, f"{ctx.output_prefix}/error.pb"
    )


def test_non_zero_exit_names_task_code_and_stderr_tail(tmp_path: Path, handler: LocalProcessHandler) -> None:
    done = Driver(handler, task_context(tmp_path, program_task("fail"))).until_done()
    assert done.phase is TaskPhase.RETRYABLE_FAILURE
    assert done.error is not None
    assert done.error.kind is ErrorKind.USER
    assert done.error.code == "NonZeroExit"
    tail = "\n".join(f"noise line {n}" for n in range(11, 30))
    assert done.error.message == (
        f"task 'tests.my_task' exited with code 3; last lines of stderr:\n{tail}\nValueError: the last words"
    )


def test_death_by_signal(tmp_path: Path, handler: LocalProcessHandler) -> None:
    done = Driver(handler, task_context(tmp_path, program_task("signal"))).until_done()
    assert done.phase is TaskPhase.RETRYABLE_FAILURE
    assert done.error is not None
    assert done.error.code == "KilledBySignal"
    assert done.error.message == ("task 'tests.my_task' was killed by signal SIGKILL (9); stderr was empty")


def test_missing_outputs(tmp_path: Path, handler: LocalProcessHandler) -> None:
    done = Driver(handler, task_context(tmp_path, program_task("nothing", outputs=["sum"]))).until_done()
    assert done.phase is TaskPhase.RETRYABLE_FAILURE
    assert done.error == ExecutionError(
        "OutputsNotFound",
        "task 'tests.my_task' finished without writing outputs.pb; its interface declares the outputs sum",
        ErrorKind.USER,
    )


def test_no_outputs_needed(tmp_path: Path, handler: LocalProcessHandler) -> None:
    done = Driver(handler, task_context(tmp_path, program_task("nothing"))).until_done()
    assert done.phase is TaskPhase.SUCCESS


def test_dynamic_futures(tmp_path: Path, handler: LocalProcessHandler) -> None:
    ctx = task_context(tmp_path, program_task("futures", outputs=["o0"]))
    done = Driver(handler, ctx).until_done()
    assert done.phase is TaskPhase.SUCCESS
    assert ctx.storage.exists(ctx.futures_uri)
    assert handler.produces_futures  # so the engine looks for futures.pb after success


def test_a_missing_command_fails_permanently(tmp_path: Path, handler: LocalProcessHandler) -> None:
    task = program_task("nothing", command=["/nonexistent/roost-tool"])
    done = Driver(handler, task_context(tmp_path, task)).until_done()
    assert done.phase is TaskPhase.PERMANENT_FAILURE
    assert done.error == ExecutionError(
        "CommandNotStarted",
        "task 'tests.my_task': could not start command '/nonexistent/roost-tool': No such file or directory",
        ErrorKind.USER,
    )


def test_a_task_without_container_fails_permanently(tmp_path: Path, handler: LocalProcessHandler) -> None:
    transition = handler.handle(task_context(tmp_path, task_template("python-task")))
    assert transition.phase is TaskPhase.PERMANENT_FAILURE
    assert transition.error == ExecutionError(
        "BadTaskSpecification",
        "task 'tests.my_task' of type 'python-task' has no container command to run",
        ErrorKind.USER,
    )


def test_mem_storage_is_refused(tmp_path: Path, handler: LocalProcessHandler) -> None:
    ctx = task_context(tmp_path, program_task("nothing"), scheme="mem")
    transition = handler.handle(ctx)
    assert transition.phase is TaskPhase.PERMANENT_FAILURE
    assert transition.error == ExecutionError(
        "UnsupportedStorage",
        "task 'tests.my_task': local-process runs the task in a separate process, which cannot "
        "reach 'mem://tests/data/exec1/n0/inputs.pb'; local-process needs file:// or s3:// "
        "storage",
        ErrorKind.SYSTEM,
    )
    assert not (tmp_path / "work").exists()


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            {"colour": "blue"},
            "engine.handlers.local-process.colour: unknown key; known: image_environments, keep_logs, "
            "kill_grace_period, log_dir, task_environment, warm, work_dir",
        ),
        (
            {"env": {"A": "1"}},
            "engine.handlers.local-process.env: unknown key; known: image_environments, keep_logs, "
            "kill_grace_period, log_dir, task_environment, warm, work_dir",
        ),
        (
            {"task_environment": {"drop_env": "ROOST_*"}},
            "engine.handlers.local-process.task_environment.drop_env: input should be a valid tuple, got 'ROOST_*'",
        ),
        (
            {"kill_grace_period": -1},
            "engine.handlers.local-process.kill_grace_period: input should be greater than or equal to 0, got -1",
        ),
        (
            {"kill_grace_period": "soon"},
            "engine.handlers.local-process.kill_grace_period: expected a duration (seconds, or a string such "
            "as '90s' or '3m'), got 'soon'",
        ),
        (
            {"keep_logs": "perhaps"},
            "engine.handlers.local-process.keep_logs: input should be a valid boolean, unable to interpret "
            "input, got 'perhaps'",
        ),
        (
            {"image_environments": ["a"]},
            "engine.handlers.local-process.image_environments: input should be a valid dictionary, got ['a']",
        ),
        (
            {"task_environment": {"env": {"A": 1}}},
            "engine.handlers.local-process.task_environment.env.A: input should be a valid string, got 1",
        ),
    ],
)
def test_bad_settings_are_refused_when_the_handler_is_built(section: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        build_handler([roost_core.builtin], "local-process", section=section)
    assert str(raised.value) == message


def test_restart_adopts_the_running_process_and_never_starts_another(
    tmp_path: Path, handler: LocalProcessHandler, make_handler: MakeHandler
) -> None:
    starts, go = tmp_path / "starts.txt", tmp_path / "go"
    ctx = task_context(tmp_path, program_task("wait", str(starts), str(go)))
    first = Driver(handler, ctx).round()
    assert first.phase is TaskPhase.RUNNING
    assert first.state is not None
    wait_until(starts.exists, "the task process to start")

    # A new engine process: a new handler instance, given the saved state...
    restarted = Driver(make_handler(), dataclasses.replace(ctx, state=first.state))
    again = restarted.round()
    assert again.phase is TaskPhase.RUNNING
    assert again.state == first.state
    # ...or no state at all, when the engine died between starting the process and saving.
    lost_state = Driver(make_handler(), ctx).round()
    assert lost_state.phase is TaskPhase.RUNNING
    assert lost_state.state == first.state

    go.touch()
    done = restarted.until_done()
    assert done.phase is TaskPhase.SUCCESS, done.error
    assert len(starts.read_text().splitlines()) == 1


def test_handling_a_finished_attempt_again_does_not_restart_it(
    tmp_path: Path, handler: LocalProcessHandler, make_handler: MakeHandler
) -> None:
    starts, go = tmp_path / "starts.txt", tmp_path / "go"
    go.touch()
    ctx = task_context(tmp_path, program_task("wait", str(starts), str(go)))
    assert Driver(handler, ctx).until_done().phase is TaskPhase.SUCCESS
    assert make_handler().handle(ctx).phase is TaskPhase.SUCCESS
    assert len(starts.read_text().splitlines()) == 1


def test_a_vanished_process_is_a_retryable_system_error(tmp_path: Path, handler: LocalProcessHandler) -> None:
    starts, go = tmp_path / "starts.txt", tmp_path / "go"
    driver = Driver(handler, task_context(tmp_path, program_task("wait", str(starts), str(go))))
    first = driver.round()
    assert first.state is not None
    wait_until(starts.exists, "the task process to start")
    os.killpg(first.state["pid"], signal.SIGKILL)  # the supervisor and the task, without a trace
    done = driver.until_done()
    assert done.phase is TaskPhase.RETRYABLE_FAILURE
    assert done.error == ExecutionError(
        "ProcessLost",
        f"task 'tests.my_task': its local process (pid {first.state['pid']}) ended without "
        f"recording an exit status (killed from outside, or its folder "
        f"{first.state['folder']!r} was removed)",
        ErrorKind.SYSTEM,
    )


def _tree(tmp_path: Path, handler: LocalProcessHandler, behaviour: str) -> tuple[Driver, list[int]]:
    pids_file = tmp_path / "pids.json"
    ctx = task_context(tmp_path, program_task("tree", str(pids_file), behaviour))
    driver = Driver(handler, ctx)
    assert driver.round().phase is TaskPhase.RUNNING
    wait_until(pids_file.exists, "the task to start its child")
    pids: list[int] = json.loads(pids_file.read_text())
    assert not any(process_gone(pid) for pid in pids)
    return driver, pids


def test_children_a_task_leaves_behind_are_killed_when_it_ends(
    tmp_path: Path, handler: LocalProcessHandler
) -> None:
    # In its process group or out of it (a session of its own), as a container's end kills every process in it.
    pids_file = tmp_path / "orphans.json"
    done = Driver(handler, task_context(tmp_path, program_task("orphans", str(pids_file)))).until_done()
    assert done.phase is TaskPhase.SUCCESS, done.error
    orphans = json.loads(pids_file.read_text())
    wait_until(lambda: all(process_gone(pid) for pid in orphans), "the children left behind to be killed")


def test_abort_kills_the_process_tree(tmp_path: Path, make_handler: MakeHandler) -> None:
    handler = make_handler(kill_grace_period=30)
    driver, pids = _tree(tmp_path, handler, "polite")
    handler.abort(driver.ctx)
    wait_until(lambda: all(process_gone(pid) for pid in pids), "the task and its child to die")
    handler.abort(driver.ctx)  # idempotent


def test_abort_escalates_to_sigkill_after_the_grace_period(tmp_path: Path, make_handler: MakeHandler) -> None:
    handler = make_handler(kill_grace_period="200ms")
    driver, pids = _tree(tmp_path, handler, "stubborn")
    handler.abort(driver.ctx)
    wait_until(lambda: all(process_gone(pid) for pid in pids), "SIGKILL after the grace period")


def test_abort_before_the_process_started(tmp_path: Path, handler: LocalProcessHandler) -> None:
    ctx = task_context(tmp_path, program_task("nothing"))
    files = _AttemptFiles.for_attempt(ctx, handler.settings)
    files.folder.mkdir(parents=True)
    handler.abort(ctx)  # no process recorded yet: the supervisor finds the marker
    done = Driver(handler, ctx).until_done()
    assert done.phase is TaskPhase.PERMANENT_FAILURE
    assert done.error is not None
    assert done.error.message == "task 'tests.my_task' was aborted before its process started"


def test_abort_leaves_a_reused_pid_alone(tmp_path: Path, handler: LocalProcessHandler) -> None:
    stranger = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(3600)"], start_new_session=True
    )
    try:
        ctx = task_context(tmp_path, program_task("nothing"))
        files = _AttemptFiles.for_attempt(ctx, handler.settings)
        files.folder.mkdir(parents=True)
        start_time = process_start_time(stranger.pid)
        assert start_time is not None
        state = files.state(stranger.pid, start_time - 1)  # recorded for an earlier process
        handler.abort(dataclasses.replace(ctx, state=state))
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


def test_only_the_spec_is_written_without_a_sync_to_disk(
    tmp_path: Path, handler: LocalProcessHandler, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    driver = Driver(handler, task_context(tmp_path, program_task("nothing")))
    first = driver.round()
    folder = Path(first.state["folder"])
    assert (folder / "spec.json").is_file()
    assert not [path for path in synced if "spec.json" in path]
    # The supervisor (another process) syncs what a restarted engine reads: process.json and result.json.
    write_json_atomically(str(tmp_path / "result.json"), {"returncode": 0})
    assert [Path(path).name for path in synced] == [f"result.json.{os.getpid()}.tmp"]
    driver.until_done()


def test_finalize_removes_the_attempt_folder(tmp_path: Path, handler: LocalProcessHandler) -> None:
    driver = Driver(handler, task_context(tmp_path, program_task("nothing")))
    driver.until_done()
    folder = Path(driver.ctx.state["folder"])
    assert folder.is_dir()
    handler.finalize(driver.ctx)
    assert not folder.exists()
    handler.finalize(driver.ctx)  # idempotent


def test_finalize_deletes_discarded_folders_in_the_background_with_what_earlier_runs_left(
    tmp_path: Path, handler: LocalProcessHandler
) -> None:
    trash = handler.settings.work_dir / "trash"
    left = trash / "left-by-an-earlier-process"
    (left / "work").mkdir(parents=True)
    (left / "work" / "data.bin").write_bytes(b"x" * 1000)
    driver = Driver(handler, task_context(tmp_path, program_task("nothing")))
    driver.until_done()
    folder = Path(driver.ctx.state["folder"])
    handler.finalize(driver.ctx)
    assert not folder.exists()  # moved out of the way at once
    deadline = time.monotonic() + 30
    while any(trash.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert list(trash.iterdir()) == []


@pytest.mark.parametrize("keep_logs", [False, True])
def test_each_attempt_has_a_temporary_folder_of_its_own_until_it_is_finalized(
    tmp_path: Path, make_handler: MakeHandler, keep_logs: bool
) -> None:
    handler = make_handler(keep_logs=keep_logs)
    drivers = [
        Driver(handler, task_context(tmp_path, program_task("tempdir", outputs=["tempdir"]), attempt=attempt))
        for attempt in (0, 1)
    ]
    temps = []
    for driver in drivers:
        assert driver.until_done().phase is TaskPhase.SUCCESS
        temps.append(Path(strings(outputs_of(driver.ctx))["tempdir"]))
        # The task left a folder there (flytekit leaves its sandboxes).
        assert [path.name[:5] for path in temps[-1].iterdir()] == ["left-"]
    # In the engine's temporary folder, not the long attempt folder: a Unix socket's path has 108 bytes at most.
    uid = os.getuid()
    assert [temp.parent for temp in temps] == [Path(tempfile.gettempdir())] * 2
    assert all(re.fullmatch(rf"roost-{uid}-[0-9a-f]{{16}}", temp.name) for temp in temps), temps
    assert temps[0] != temps[1]
    for driver, temp in zip(drivers, temps, strict=True):
        handler.finalize(driver.ctx)
        assert not temp.exists()


def test_finalize_finds_the_temporary_folder_after_the_engines_changed(
    tmp_path: Path, handler: LocalProcessHandler, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An engine restarted with another TMPDIR finalizes the attempts it re-attached to: their folders are where the
    # attempt's state says, not in the new engine's temporary folder.
    driver = Driver(handler, task_context(tmp_path, program_task("tempdir", outputs=["tempdir"])))
    assert driver.until_done().phase is TaskPhase.SUCCESS
    temp = Path(strings(outputs_of(driver.ctx))["tempdir"])
    assert temp.is_dir()
    (tmp_path / "restarted").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "restarted"))
    handler.finalize(driver.ctx)
    assert not temp.exists()


def test_a_temporary_folder_the_task_names_wins(tmp_path: Path, handler: LocalProcessHandler) -> None:
    chosen = tmp_path / "chosen"
    chosen.mkdir()
    task = program_task("tempdir", outputs=["tempdir"], env={"TMPDIR": str(chosen)})
    driver = Driver(handler, task_context(tmp_path, task))
    assert driver.until_done().phase is TaskPhase.SUCCESS
    assert strings(outputs_of(driver.ctx)) == {"tempdir": str(chosen)}


def test_keep_logs(tmp_path: Path, make_handler: MakeHandler) -> None:
    handler = make_handler(keep_logs=True)
    driver = Driver(handler, task_context(tmp_path, program_task("fail")))
    driver.until_done()
    folder = Path(driver.ctx.state["folder"])
    handler.finalize(driver.ctx)
    assert sorted(p.name for p in folder.iterdir()) == ["stderr.log", "stdout.log"]
    assert "the last words" in (folder / "stderr.log").read_text()


def test_log_dir(tmp_path: Path, make_handler: MakeHandler) -> None:
    handler = make_handler(log_dir=str(tmp_path / "logs"))
    driver = Driver(handler, task_context(tmp_path, program_task("fail")))
    done = driver.until_done()
    stderr = Path(done.logs[1].uri[len("file://") :])
    assert stderr.parent.parent == tmp_path / "logs"
    handler.finalize(driver.ctx)
    assert not Path(driver.ctx.state["folder"]).exists()
    assert "the last words" in stderr.read_text()


def test_retry_attempts_get_their_own_process(tmp_path: Path, handler: LocalProcessHandler) -> None:
    first = Driver(handler, task_context(tmp_path, program_task("env", "FLYTE_ATTEMPT_NUMBER")))
    first.until_done()
    environment = {"FLYTE_ATTEMPT_NUMBER": "1"}
    second = Driver(
        handler,
        task_context(
            tmp_path, program_task("env", "FLYTE_ATTEMPT_NUMBER"), attempt=1, environment=environment
        ),
    )
    done = second.until_done()
    assert done.phase is TaskPhase.SUCCESS
    assert first.ctx.state["folder"] != second.ctx.state["folder"]
    assert strings(outputs_of(second.ctx)) == {"FLYTE_ATTEMPT_NUMBER": "1"}
