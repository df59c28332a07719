"""The ``local-process`` handler: runs a container task's command line as a process on this machine.

It serves the task types ``container``, ``python-task`` and ``raw-container``. The command and
arguments of ``TaskTemplate.container`` are rendered with Flyte's template variables
(:func:`roost_core.container.render_task_args`); the process reads ``inputs.pb`` and writes
``outputs.pb``, ``futures.pb`` or ``error.pb`` through blob storage itself, so the storage must be
one a separate process can reach (``file://`` or ``s3://``, not ``mem://``). A task without a
``container`` whose target is ``k8s_pod`` (a pod template) runs its primary container's command,
with the plain ``value`` variables of its environment.

Raw containers with an enabled ``data_config`` (flytekit's and Roost's ``ContainerTask``) get Flyte's
copilot data loading around the process (:mod:`roost_core.copilot`): before it starts, the inputs are
written as files into the attempt's ``inputs`` folder; the container's input and output paths in the
command line are replaced by the attempt's ``inputs`` and ``outputs`` folders; after it exited, the
``outputs`` folder is read back into ``outputs.pb`` (or ``error.pb`` saying what was missing). The
container's image is not used: the command runs on this machine (see ``image_environments``).

Fast-registered tasks (``pyflyte-fast-execute`` and ``roost-fast-execute``) unpack their code into the
``--dest-dir`` they are given, a folder of the image (flytekit registers with ``/root``). On this machine
that folder is not the task's own, so an absolute ``--dest-dir`` is replaced by the attempt's working
directory, which plays the part of the container's file system.

Settings (:class:`LocalProcessSettings`, ``engine.handlers.local-process``): ``image_environments``,
``kill_grace_period``, ``work_dir``, ``log_dir``, ``keep_logs``, ``warm`` (warm task processes, below), and the
shared ``task_environment`` (:class:`~roost_core.settings.TaskEnvironment`: ``env`` and ``drop_env``), which this
handler may override.

The process environment is the engine's own environment (less ``task_environment.drop_env``), then ``TMPDIR``,
``TEMP`` and ``TMP`` naming the attempt's own temporary folder (in the engine's, removed with the attempt's folder,
as a container's ``/tmp`` goes with it), then the container's ``env``, then ``ctx.environment`` (the execution's
identity and variables), then ``task_environment.env``.

How an attempt runs: the first ``handle`` creates the attempt's folder, whose name is derived from
the attempt's identity and output prefix, takes an exclusive lock on its ``lock`` file, and starts a
small supervisor (:mod:`roost_core.handlers._supervise`) in its own session, passing it the locked
file. The supervisor holds that lock while it lives, starts the task, and writes ``result.json``
atomically when the task ended. Any later ``handle``, from this engine or from a new one after a
restart, reads ``result.json``; or finds the lock held (still running); or finds it free with no
result (the process vanished: a retryable SYSTEM error). A start happens only while holding the lock
and only if the folder shows no earlier start, so an attempt never gets a second process. A watcher
thread wakes the engine (``ctx.notify``) when the process ends.

Warm task processes (:mod:`roost_core.handlers._warm_pool`): when the command is a Python console script, the
supervisor is instead forked from a fork server of the task's Python environment that imported the script's
module once, and the task is a fork of that supervisor calling the script's function. The attempt's folder,
lock, process group, environment, working folder, logs and result files are the same as a cold start's, so abort,
re-attachment after a restart and the outcome work alike. Whoever starts first (the warm supervisor or a cold
one after the server failed) creates the attempt's ``claimed`` file; the other does not start. Engines that share the ``work_dir``
but not the blob store (two servers on one machine) never share an attempt's folder, even for
executions of the same name. Linux or another POSIX system is required (``flock``, process groups).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import fnmatch
import hashlib
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flyteidl.core import tasks_pb2
from google.protobuf.json_format import MessageToDict
from pydantic import Field

from roost_core.container import (
    ResultKind,
    TemplateError,
    completion_transition,
    read_task_result,
    render_task_args,
)
from roost_core.copilot import (
    ERROR_FILE,
    DataLoadingError,
    data_loading_config,
    data_paths,
    download_inputs,
    substitute_paths,
    upload_outputs,
    write_error_document,
)
from roost_core.errors import ErrorKind
from roost_core.handler import (
    InlineRunner,
    TaskContext,
    TaskHandler,
    TaskLog,
    Transition,
)
from roost_core.handlers._supervise import (
    TEMP_VARIABLES,
    prepare_attempt,
    process_start_time,
    signal_group,
)
from roost_core.handlers._warm_pool import WarmPools, WarmSettings, handler_switch_on, warm_entry
from roost_core.settings import HandlerSettings, Seconds, TaskEnvironment
from roost_core.storage import StorageError

if TYPE_CHECKING:
    from roost_core.handlers._inline_batches import NodeRunners

SUPERVISOR = Path(__file__).with_name("_supervise.py")
DEFAULT_KILL_GRACE_PERIOD = 10.0
RECHECK_AFTER = 30.0
"""Seconds after which the engine looks again, should the watcher thread's wake-up get lost."""
STDERR_TAIL_LINES = 20
_STDERR_TAIL_BYTES = 16 * 1024
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
_DIGEST_LENGTH = 16
"""Hex digits of the attempt's digest that end its folder's name."""
# Errors that no retry can fix: the command is missing or cannot be executed.
_PERMANENT_START_ERRORS = {errno.ENOENT, errno.EACCES, errno.ENOEXEC, errno.ENOTDIR, errno.EISDIR}


def _default_work_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"roost-local-process-{os.getuid()}"


class LocalProcessSettings(HandlerSettings):
    """The settings of the ``local-process`` handler (``engine.handlers.local-process``)."""

    task_environment: TaskEnvironment = TaskEnvironment()
    """The shared ``engine.task_environment`` (``env``, ``drop_env``), with this handler's overrides."""
    image_environments: dict[str, str] = Field(default_factory=dict)
    """Container image (exact string) → the folder of a Python environment (virtualenv, conda). Its ``bin/``
    goes first on ``PATH`` and ``VIRTUAL_ENV`` names it, so tasks built for different images run with
    different interpreters. A task whose image is not listed runs in the engine's own environment: the folder
    of the engine's Python goes first on ``PATH``."""
    kill_grace_period: Seconds = DEFAULT_KILL_GRACE_PERIOD
    """Seconds an aborted task gets between SIGTERM and SIGKILL."""
    work_dir: Path = Field(default_factory=_default_work_dir)
    """Folder holding one sub-folder per attempt: control files, the process's working directory, and the
    logs unless ``log_dir`` is set. ``finalize`` removes the attempt's sub-folder (moved into ``trash`` at once,
    deleted there by a background thread)."""
    log_dir: Path | None = None
    """Folder receiving the logs instead (one sub-folder per attempt); the handler never removes them."""
    keep_logs: bool = False
    """When true, ``finalize`` keeps the log files in the attempt's sub-folder."""
    warm: WarmSettings = WarmSettings()
    """Warm task processes: eligible attempts start as forks of an interpreter that already imported the task
    runtime (:mod:`roost_core.handlers._warm_pool`)."""


@dataclass(frozen=True, slots=True)
class _AttemptFiles:
    """Where one attempt's control files and logs live."""

    folder: Path
    stdout: Path
    stderr: Path
    temp: Path
    """The process's temporary folder (``TMPDIR``), removed with the attempt's folder: in the engine's own
    temporary folder rather than under ``folder``, whose long path would leave too little of a Unix socket path's
    108 bytes for sockets made there (multiprocessing's, a client library's). Named by the attempt folder's digest,
    and kept in the attempt's state, so that an engine restarted with another temporary folder still finds it."""

    @classmethod
    def for_attempt(cls, ctx: TaskContext, settings: LocalProcessSettings) -> _AttemptFiles:
        execution = ctx.task_execution_id.node_execution_id.execution_id
        # The output prefix tells apart engines that share the work_dir but not the blob store (two
        # servers on one machine), whose executions may have the same names.
        identity = "\0".join(
            [
                execution.project,
                execution.domain,
                execution.name,
                ctx.node_id,
                str(ctx.attempt),
                ctx.output_prefix,
            ]
        )
        digest = hashlib.sha256(identity.encode()).hexdigest()[:_DIGEST_LENGTH]
        readable = _UNSAFE_NAME.sub("_", f"{execution.name}-{ctx.node_id}-{ctx.attempt}")[:80]
        key = f"{readable}-{digest}"
        folder = settings.work_dir / key
        logs = settings.log_dir / key if settings.log_dir else folder
        return cls(folder, logs / "stdout.log", logs / "stderr.log", _temp_of(folder))

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> _AttemptFiles:
        folder = Path(state["folder"])
        # States saved before the temporary folder was kept in them name it by the engine's temporary folder.
        temp = Path(state["temp"]) if "temp" in state else _temp_of(folder)
        return cls(folder, Path(state["stdout"]), Path(state["stderr"]), temp)

    def state(self, pid: int | None, start_time: int | None) -> dict[str, Any]:
        return {
            "folder": str(self.folder),
            "stdout": str(self.stdout),
            "stderr": str(self.stderr),
            "temp": str(self.temp),
            "pid": pid,
            "start_time": start_time,
        }

    @property
    def lock(self) -> Path:
        return self.folder / "lock"

    @property
    def spec(self) -> Path:
        return self.folder / "spec.json"

    @property
    def process(self) -> Path:
        return self.folder / "process.json"

    @property
    def result(self) -> Path:
        return self.folder / "result.json"

    @property
    def abort_marker(self) -> Path:
        return self.folder / "aborted"

    @property
    def claimed(self) -> Path:
        return self.folder / "claimed"

    @property
    def cwd(self) -> Path:
        return self.folder / "work"

    @property
    def input_dir(self) -> Path:
        return self.folder / "inputs"

    @property
    def output_dir(self) -> Path:
        return self.folder / "outputs"

    def logs(self) -> tuple[TaskLog, ...]:
        return (TaskLog("stdout", self.stdout.as_uri()), TaskLog("stderr", self.stderr.as_uri()))

    def read_json(self, path: Path) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        return data


def _temp_of(folder: Path) -> Path:
    """An attempt's temporary folder, in the engine's, by its attempt folder's digest."""
    return Path(tempfile.gettempdir()) / f"roost-{os.getuid()}-{folder.name[-_DIGEST_LENGTH:]}"


INLINE_LANES = 8
"""Batch children a node's inline map indices spread over (each starts its attempts one after another): more than
this machine's cores, since an attempt's latency is mostly waiting (forks, files, the scheduler)."""


class LocalProcessHandler(TaskHandler):
    """Runs container tasks as supervised local processes; see the module docstring."""

    name = "local-process"
    produces_futures = True  # flytekit dynamic tasks are python-task processes writing futures.pb
    inline_slow = 0.1  # an index is a process: slower ones do better as parallel ordinary attempts
    inline_concurrency = INLINE_LANES
    inline_outputs_stored = True  # each index's process wrote its outputs.pb where the engine keeps them

    def __init__(self, settings: LocalProcessSettings | None = None) -> None:
        self.settings = settings or LocalProcessSettings()
        self._watched: set[Path] = set()
        self._watched_lock = threading.Lock()
        warm = self.settings.warm
        self._trash = _Trash(self.settings.work_dir / "trash")
        self._runners: NodeRunners | None = None  # made at the first map that runs inline
        self._pools = (
            WarmPools(warm, self.settings.work_dir / "warm-pools")
            if warm.enabled and handler_switch_on(os.environ)
            else None
        )

    def close(self) -> None:
        """Stop the warm fork servers; attempts already started keep running and are re-attached later."""
        if self._runners is not None:
            self._runners.close()
        if self._pools is not None:
            self._pools.close()

    def handle(self, ctx: TaskContext) -> Transition:
        """Start the attempt's process (first round) or report on it."""
        settings = self.settings
        files = self._files(ctx)
        if not ctx.state:
            refusal = _storage_refusal(ctx)
            if refusal is not None:
                return refusal
        result = files.read_json(files.result)
        if result is not None:
            return self._outcome(ctx, files, result)
        if not files.folder.exists():
            if ctx.state:
                return self._lost(ctx, files)
            files.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock_fd = os.open(files.lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                # A live supervisor holds the lock (or another thread is starting it).
                self._watch_lock(files, ctx.notify)
                return self._running(ctx, files)
            result = files.read_json(files.result)
            if result is not None:
                return self._outcome(ctx, files, result)
            if ctx.state or files.claimed.exists():
                return self._lost(ctx, files)
            # A spec without a claim was prepared and never started (a map's inline runner sent it to a batch
            # child, or an engine stopped in between): started now, under the lock the batch child would need.
            return self._start(ctx, settings, files, lock_fd)
        finally:
            os.close(lock_fd)

    def inline_runner(self, task: tasks_pb2.TaskTemplate) -> InlineRunner | None:
        """Map indices of tasks that start warm run as ordinary attempts started by batch children of their fork
        server (see :mod:`roost_core.handlers._inline_batches`); None when warm processes are off, or for raw
        containers (their data loading runs in this process)."""
        if self._pools is None or data_loading_config(task) is not None:
            return None
        from roost_core.handlers._inline_batches import NodeRunners  # it builds on this module

        if self._runners is None:
            self._runners = NodeRunners()
        return self._runners.new(self, self._pools)

    def abort(self, ctx: TaskContext) -> None:
        """SIGTERM the attempt's process group; its supervisor SIGKILLs it after the grace time."""
        files = self._files(ctx)
        if not files.folder.exists() or files.result.exists():
            return
        # A supervisor not yet in process.json checks this marker before it starts the task.
        files.abort_marker.touch()
        pid, start_time = _recorded_process(ctx, files)
        if pid is None:
            return
        current = process_start_time(pid)
        if current is not None and start_time is not None and current != start_time:
            return  # the pid now belongs to another process: ours, and its group, are gone
        # With the supervisor gone nobody escalates, so what is left of its group dies at once.
        signal_group(pid, signal.SIGTERM if current is not None else signal.SIGKILL)

    def finalize(self, ctx: TaskContext) -> None:
        """Remove the attempt's folder (keeping its log files when ``keep_logs`` is set) and its temporary folder."""
        files = self._files(ctx)
        self._trash.discard(files.temp)  # nothing to do when it is gone already
        if not files.folder.exists():
            return
        if self.settings.keep_logs and files.stdout.parent == files.folder:
            for entry in files.folder.iterdir():
                if entry not in (files.stdout, files.stderr):
                    _remove(entry)
        else:
            self._trash.discard(files.folder)

    def _files(self, ctx: TaskContext) -> _AttemptFiles:
        if ctx.state:
            return _AttemptFiles.from_state(ctx.state)
        return _AttemptFiles.for_attempt(ctx, self.settings)

    def _start(
        self, ctx: TaskContext, settings: LocalProcessSettings, files: _AttemptFiles, lock_fd: int
    ) -> Transition:
        spec = _spec(ctx, settings, files)
        if isinstance(spec, Transition):
            return spec
        prepare_attempt(str(files.spec), spec)
        argv, env = spec["argv"], spec["env"]
        pid = None
        if self._pools is not None and (entry := warm_entry(argv, env)) is not None:
            pid = self._pools.start(entry, files.spec, argv, env, lock_fd)
        if pid is not None:
            self._watch_lock(files, ctx.notify)
            state = files.state(pid, process_start_time(pid))
            return Transition.running(state=state, logs=files.logs(), wake_after=RECHECK_AFTER)
        # A warm supervisor claims the attempt first; one may have done so before its server failed.
        if not _claim(files):
            self._watch_lock(files, ctx.notify)
            return self._running(ctx, files)
        with open(files.folder / "supervisor.log", "ab") as supervisor_log:
            supervisor = subprocess.Popen(
                [sys.executable, "-I", str(SUPERVISOR), str(files.spec)],
                stdin=subprocess.DEVNULL,
                stdout=supervisor_log,
                stderr=supervisor_log,
                cwd=files.folder,
                start_new_session=True,
                pass_fds=(lock_fd,),
            )
        # Always waited for here, even if another thread already watches the lock: wait() reaps it.
        self._watch(files, supervisor.wait, ctx.notify, always=True)
        state = files.state(supervisor.pid, process_start_time(supervisor.pid))
        return Transition.running(state=state, logs=files.logs(), wake_after=RECHECK_AFTER)

    def _running(self, ctx: TaskContext, files: _AttemptFiles) -> Transition:
        pid, start_time = _recorded_process(ctx, files)
        return Transition.running(
            state=files.state(pid, start_time), logs=files.logs(), wake_after=RECHECK_AFTER
        )

    def _outcome(
        self,
        ctx: TaskContext,
        files: _AttemptFiles,
        result: Mapping[str, Any],
        process: Mapping[str, Any] | None = None,
    ) -> Transition:
        """How the attempt ended, from its ``result`` file (and its ``process`` file, when the caller read it)."""
        task = ctx.task.id.name
        logs = files.logs()
        pid, start_time = (
            (process["pid"], process.get("start_time")) if process else _recorded_process(ctx, files)
        )
        state = files.state(pid, start_time)
        if result.get("aborted"):
            return Transition.failure(
                "Aborted",
                f"task {task!r} was aborted before its process started",
                kind=ErrorKind.SYSTEM,
                retryable=False,
                logs=logs,
                state=state,
            )
        if "start_error" in result:
            spec = files.read_json(files.spec) or {}
            command = (spec.get("argv") or ["?"])[0]
            permanent = result.get("errno") in _PERMANENT_START_ERRORS
            return Transition.failure(
                "CommandNotStarted",
                f"task {task!r}: could not start command {command!r}: {result['start_error']}",
                kind=ErrorKind.USER if permanent else ErrorKind.SYSTEM,
                retryable=not permanent,
                logs=logs,
                state=state,
            )
        task_result = read_task_result(ctx.storage, ctx.output_prefix)
        returncode = int(result["returncode"])
        loading = data_loading_config(ctx.task)
        if loading is not None and task_result.kind is ResultKind.NOTHING:
            _collect_outputs(ctx, files, exited_ok=returncode == 0)
            task_result = read_task_result(ctx.storage, ctx.output_prefix)
        if task_result.kind is not ResultKind.ERROR and returncode != 0:
            return Transition.failure(
                "KilledBySignal" if returncode < 0 else "NonZeroExit",
                f"task {task!r} {_describe_exit(returncode)}; {_stderr_tail(files.stderr)}",
                logs=logs,
                state=state,
            )
        return completion_transition(task_result, ctx.task, logs=logs, state=state)

    def _lost(self, ctx: TaskContext, files: _AttemptFiles) -> Transition:
        pid, start_time = _recorded_process(ctx, files)
        if pid is not None and process_start_time(pid) in (None, start_time):
            signal_group(pid, signal.SIGKILL)  # whatever the task left behind
        return Transition.failure(
            "ProcessLost",
            f"task {ctx.task.id.name!r}: its local process (pid {pid}) ended without recording "
            f"an exit status (killed from outside, or its folder {str(files.folder)!r} was "
            "removed)",
            kind=ErrorKind.SYSTEM,
            retryable=True,
            logs=files.logs(),
            state=files.state(pid, start_time),
        )

    def _watch_lock(self, files: _AttemptFiles, notify: Callable[[], None]) -> None:
        """Watch a process this handler instance did not start: wait for its lock to be released."""

        def wait_for_lock() -> None:
            try:
                lock_fd = os.open(files.lock, os.O_RDWR)
            except OSError:
                return
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX)
            finally:
                os.close(lock_fd)

        self._watch(files, wait_for_lock, notify)

    def _watch(
        self,
        files: _AttemptFiles,
        wait: Callable[[], object],
        notify: Callable[[], None],
        *,
        always: bool = False,
    ) -> None:
        """Run ``wait`` in a thread, then wake the engine; once per attempt unless ``always``."""
        with self._watched_lock:
            if files.folder in self._watched and not always:
                return
            self._watched.add(files.folder)

        def watch() -> None:
            try:
                wait()
            finally:
                with self._watched_lock:
                    self._watched.discard(files.folder)
                notify()

        name = f"local-process {files.folder.name}"
        threading.Thread(target=watch, name=name, daemon=True).start()


@dataclass(frozen=True, slots=True)
class _CommandSource:
    """What the process runs: the task's container, or the primary container of its pod spec."""

    image: str
    command: tuple[str, ...]
    args: tuple[str, ...]
    env: tuple[tuple[str, str], ...]


_FAST_EXECUTE_COMMANDS = frozenset({"pyflyte-fast-execute", "roost-fast-execute"})


def _local_code_folder(argv: list[str], cwd: Path) -> list[str]:
    """``argv`` with a fast-execute command's absolute ``--dest-dir`` pointed at the attempt's folder."""
    if not argv or Path(argv[0]).name not in _FAST_EXECUTE_COMMANDS:
        return argv
    result = list(argv)
    for index, arg in enumerate(result[:-1]):
        if arg == "--":
            break
        if arg == "--dest-dir" and Path(result[index + 1]).is_absolute():
            result[index + 1] = str(cwd)
    return result


def _spec(
    ctx: TaskContext,
    settings: LocalProcessSettings,
    files: _AttemptFiles,
    inherited: Mapping[str, str] | None = None,
) -> dict[str, Any] | Transition:
    """The attempt's spec for its supervisor (command line, environment, folders; see :mod:`._supervise`), or the
    failure saying why the task cannot run. A task with a ``data_config`` gets its input files here. ``inherited``:
    what :func:`_inherited_environment` gives, when the caller keeps it for many attempts."""
    task = ctx.task.id.name
    try:
        source = _command_source(ctx.task)
    except ValueError as exc:
        return Transition.failure("BadTaskSpecification", f"task {task!r}: {exc}", retryable=False)
    if not (source.command or source.args):
        return Transition.failure(
            "BadTaskSpecification",
            f"task {task!r} of type {ctx.task.type!r} has no container command to run",
            retryable=False,
        )
    try:
        # flytekit records what it uploads under the raw output prefix in its literals, and cannot open
        # file:// URIs there: the local store's prefix is given as a plain path.
        argv = render_task_args(ctx, [*source.command, *source.args], local_paths=True)
    except TemplateError as exc:
        return Transition.failure("BadTaskSpecification", str(exc), retryable=False)
    loading = data_loading_config(ctx.task)
    if loading is not None:
        try:
            argv = _prepare_data(ctx, files, loading, argv)
        except DataLoadingError as exc:
            return Transition.failure(
                exc.code,
                f"task {task!r}: {exc}",
                kind=exc.kind,
                retryable=exc.kind is ErrorKind.SYSTEM,
            )
    return {
        "argv": _local_code_folder(argv, files.cwd),
        "env": _process_environment(ctx, settings, source, files.temp, inherited),
        "cwd": str(files.cwd),
        "temp": str(files.temp),
        "stdout": str(files.stdout),
        "stderr": str(files.stderr),
        "process": str(files.process),
        "result": str(files.result),
        "abort_marker": str(files.abort_marker),
        "kill_grace_period": settings.kill_grace_period,
    }


def _command_source(task: tasks_pb2.TaskTemplate) -> _CommandSource:
    """The container to run; a ``k8s_pod`` task runs its primary container (plain env values only)."""
    if task.HasField("container") or not task.HasField("k8s_pod"):
        container = task.container
        return _CommandSource(
            container.image,
            tuple(container.command),
            tuple(container.args),
            tuple((pair.key, pair.value) for pair in container.env),
        )
    primary = task.config.get("primary_container_name") or task.k8s_pod.primary_container_name
    spec = MessageToDict(task.k8s_pod.pod_spec)
    containers = [c for c in spec.get("containers") or () if isinstance(c, dict)]
    found = next((c for c in containers if c.get("name") == primary), None)
    if found is None:
        names = ", ".join(repr(c.get("name")) for c in containers) or "none"
        raise ValueError(f"its pod spec has no primary container {primary!r} (containers: {names})")
    env = tuple(
        (str(e["name"]), str(e.get("value", "")))
        for e in found.get("env") or ()
        if isinstance(e, dict) and "name" in e and "valueFrom" not in e
    )
    return _CommandSource(
        str(found.get("image", "")),
        tuple(str(a) for a in found.get("command") or ()),
        tuple(str(a) for a in found.get("args") or ()),
        env,
    )


def _prepare_data(
    ctx: TaskContext, files: _AttemptFiles, loading: tasks_pb2.DataLoadingConfig, argv: list[str]
) -> list[str]:
    """Copilot's download step: the inputs as files; the command line pointed at the local folders."""
    input_path, output_path = data_paths(loading)
    if input_path == output_path:
        raise DataLoadingError(
            "BadTaskSpecification",
            f"its data_config uses {input_path!r} for both inputs and outputs",
            ErrorKind.USER,
        )
    files.output_dir.mkdir(parents=True, exist_ok=True)
    try:
        inputs = ctx.read_inputs()
    except StorageError as exc:
        raise DataLoadingError(
            "InputDownloadFailed", f"cannot read its inputs: {exc}", ErrorKind.SYSTEM
        ) from None
    download_inputs(ctx.storage, inputs, files.input_dir, format=loading.format)
    return substitute_paths(argv, {input_path: str(files.input_dir), output_path: str(files.output_dir)})


def _collect_outputs(ctx: TaskContext, files: _AttemptFiles, *, exited_ok: bool) -> None:
    """Copilot's upload step: outputs.pb from the output folder, or error.pb saying why not.

    As in Flyte, a task without outputs has nothing read back; a process that failed has only its
    ``_ERROR`` file read.
    """
    if not ctx.task.interface.outputs.variables:
        return
    try:
        if exited_ok or (files.output_dir / ERROR_FILE).is_file():
            upload_outputs(
                ctx.storage,
                ctx.task.interface.outputs,
                files.output_dir,
                output_prefix=ctx.output_prefix,
                raw_output_prefix=ctx.raw_output_prefix,
            )
    except DataLoadingError as exc:
        write_error_document(ctx.storage, ctx.output_prefix, exc)


def _inherited_environment(settings: LocalProcessSettings) -> dict[str, str]:
    """The engine's environment variables a task process inherits (all but ``drop_env``'s)."""
    drop = settings.task_environment.drop_env
    return {
        name: value
        for name, value in os.environ.items()
        if not any(fnmatch.fnmatchcase(name, pattern) for pattern in drop)
    }


def _process_environment(
    ctx: TaskContext,
    settings: LocalProcessSettings,
    source: _CommandSource,
    temp: Path,
    inherited: Mapping[str, str] | None = None,
) -> dict[str, str]:
    shared = settings.task_environment
    env = dict(_inherited_environment(settings) if inherited is None else inherited)
    # The attempt's own temporary folder, unless the task or the operator names one.
    env.update(dict.fromkeys(TEMP_VARIABLES, str(temp)))
    env.update(source.env)
    env.update(ctx.environment)
    env.update(shared.env)
    image_environment = settings.image_environments.get(source.image)
    if image_environment is not None:
        first_on_path = str(Path(image_environment) / "bin")
        env["VIRTUAL_ENV"] = image_environment
    else:
        first_on_path = str(Path(sys.executable).parent)
    env["PATH"] = first_on_path + os.pathsep + env.get("PATH", os.defpath)
    return env


def _storage_refusal(ctx: TaskContext) -> Transition | None:
    uris = (
        ctx.inputs_uri,
        ctx.output_prefix,
        ctx.raw_output_prefix,
        ctx.checkpoint_prefix,
        ctx.prev_checkpoint_prefix,
    )
    for uri in uris:
        if uri.startswith("mem://"):
            return Transition.failure(
                "UnsupportedStorage",
                f"task {ctx.task.id.name!r}: local-process runs the task in a separate process, "
                f"which cannot reach {uri!r}; local-process needs file:// or s3:// storage",
                kind=ErrorKind.SYSTEM,
                retryable=False,
            )
    return None


def _recorded_process(ctx: TaskContext, files: _AttemptFiles) -> tuple[int | None, int | None]:
    """The supervisor's pid and start time, from the plugin state or else from its process file."""
    if ctx.state.get("pid") is not None:
        return ctx.state["pid"], ctx.state.get("start_time")
    recorded = files.read_json(files.process) if files.folder.exists() else None
    if recorded is None:
        return None, None
    return recorded["pid"], recorded.get("start_time")


def _claim(files: _AttemptFiles) -> bool:
    """Claim the attempt's start for this process (False: a warm supervisor claimed it already)."""
    try:
        os.close(os.open(files.claimed, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        return False
    return True


def _describe_exit(returncode: int) -> str:
    if returncode >= 0:
        return f"exited with code {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = "an unknown signal"
    return f"was killed by signal {name} ({-returncode})"


def _stderr_tail(path: Path) -> str:
    try:
        with open(path, "rb") as stream:
            stream.seek(0, os.SEEK_END)
            stream.seek(max(0, stream.tell() - _STDERR_TAIL_BYTES))
            data = stream.read()
    except OSError:
        return "its stderr log is gone"
    lines = data.decode("utf-8", errors="replace").splitlines()[-STDERR_TAIL_LINES:]
    if not any(line.strip() for line in lines):
        return "stderr was empty"
    return "last lines of stderr:\n" + "\n".join(lines)


class _Trash:
    """Attempt folders that ``finalize`` discards: renamed into one folder at once and deleted by a background
    thread, since deleting a folder's files is slow on a busy disk and ``finalize`` runs in the engine's round.
    The thread first deletes what earlier processes left there."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._queue: queue.SimpleQueue[Path] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def discard(self, path: Path) -> None:
        """Delete ``path`` soon: moved out of the way into the trash at once, or where it is when it cannot be moved
        there (a temporary folder on another file system)."""
        target = self.folder / f"{path.name}-{uuid.uuid4().hex[:12]}"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            os.rename(path, target)
        except FileNotFoundError:
            return
        except OSError:  # on another file system than the trash (a temporary folder), or no trash
            target = path
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._empty, name="local-process-trash", daemon=True)
                self._thread.start()
        self._queue.put(target)

    def _empty(self) -> None:
        with contextlib.suppress(OSError):
            _delete(list(self.folder.iterdir()))
        while True:
            batch = [self._queue.get()]
            with contextlib.suppress(queue.Empty):
                while len(batch) < _TRASH_BATCH:
                    batch.append(self._queue.get_nowait())
            _delete(batch)


_TRASH_BATCH = 256
"""Folders deleted by one ``rm``."""


def _delete(paths: list[Path]) -> None:
    """Delete ``paths`` with one ``rm -rf`` in a child process: deleting many files from Python would hold the
    interpreter lock the engine's threads need (it was most of a busy map's CPU in the engine's process)."""
    if not paths:
        return
    try:
        subprocess.run(
            ["rm", "-rf", "--", *map(str, paths)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
    except OSError:  # no rm here: delete them from Python
        for path in paths:
            _remove(path)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
