"""The ``mpi-local`` handler: runs an MPI task's ranks on this machine under a real ``mpirun``.

It is core's ``local-process`` handler (supervision, locking, restart safety, abort by process group, logs)
running a different command line: the task's program (:func:`roost_mpi.command.program_of`) under
``_launch.py``, which starts ``workers x slots`` ranks with ``mpirun`` from the task's environment (the image's
Python environment from ``image_environments``, else the engine's own), each through ``_rank.py``; the ranks
of Roost's own tasks are forked from one process that imported the task runner once (``_zygote.py``).

Every rank writes its result into its own folder under ``work_dir/mpi-ranks/<attempt>``; when ``mpirun`` has
ended, the handler puts the result under the attempt's output prefix: the error of the rank that failed first
(its error document, or its exit code and the last lines of its stderr), each message naming the rank; else
rank 0's outputs. A rank that fails ends every other rank within seconds (``mpirun`` stops the gang when one
exits non-zero; a rank that wrote its error and then hangs in finalize is killed after ``error_grace_period``).

Settings (:class:`MPILocalSettings`, ``engine.handlers.mpi-local``): those of ``local-process``
(``image_environments``, ``kill_grace_period``, ``work_dir``, ``log_dir``, ``keep_logs``, ``task_environment``),
plus ``mpirun``, ``mpirun_flags`` and ``error_grace_period``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import json
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

from flyteidl.core import errors_pb2, execution_pb2, tasks_pb2
from google.protobuf.message import DecodeError
from pydantic import Field

from roost_core.extend import (
    LocalProcessHandler,
    LocalProcessSettings,
    TaskContext,
    TaskHandler,
    Transition,
    WarmSettings,
)
from roost_core.settings import Seconds
from roost_mpi.command import CommandError, program_of
from roost_mpi.job import JobError, read_job

__all__ = ["MPILocalHandler", "MPILocalSettings"]

LAUNCH_SCRIPT = Path(__file__).with_name("_launch.py")
RANK_FOLDER = "mpi-ranks"
STDERR_TAIL_LINES = 20
_RESULT_FILES = ("futures.pb", "outputs.pb")


class MPILocalSettings(LocalProcessSettings):
    """The settings of the ``mpi-local`` handler (``engine.handlers.mpi-local``)."""

    warm: WarmSettings = WarmSettings(enabled=False)
    """Warm task processes (see ``local-process``): off here, as ``mpirun`` starts the ranks itself."""
    mpirun: str = "mpirun"
    """The MPI launcher: a program looked up on the task's ``PATH`` (its image's environment first, then the
    engine's), or a path. Open MPI's and MPICH's both work."""
    mpirun_flags: list[str] = Field(default_factory=list)
    """Extra flags for ``mpirun``, after the ones a one-machine run needs."""
    error_grace_period: Seconds = 2.0
    """Seconds a rank that wrote its error document may take to exit before it is killed (its MPI finalize
    would wait for ranks that wait for it)."""


class MPILocalHandler(TaskHandler):
    """Runs ``mpi`` tasks with ``mpirun`` on this machine; see the module docstring."""

    name = "mpi-local"

    def __init__(self, settings: MPILocalSettings | None = None) -> None:
        self.settings = settings or MPILocalSettings()
        self._processes = LocalProcessHandler(self.settings)

    def handle(self, ctx: TaskContext) -> Transition:
        """Start the ranks (first round), or report on them."""
        task = ctx.task.id.name
        try:
            launch = self._launch_context(ctx)
        except (JobError, CommandError) as exc:
            return Transition.failure("BadTaskSpecification", f"task {task!r}: {exc}", retryable=False)
        ranks = self._rank_dir(ctx)
        if (ranks / "done.json").exists():
            self._report(ctx, ranks)
        return self._processes.handle(launch)

    def abort(self, ctx: TaskContext) -> None:
        """Stop every rank: SIGTERM to the attempt's process group, SIGKILL after ``kill_grace_period``."""
        try:
            launch = self._launch_context(ctx)
        except (JobError, CommandError):
            return  # nothing was started
        self._processes.abort(launch)

    def finalize(self, ctx: TaskContext) -> None:
        """Remove the attempt's folders (rank folders included)."""
        with contextlib.suppress(JobError, CommandError):
            self._processes.finalize(self._launch_context(ctx))
        shutil.rmtree(self._rank_dir(ctx), ignore_errors=True)

    def close(self) -> None:
        """Stop the local-process handler's warm servers, if warm processes were switched on."""
        self._processes.close()

    def _rank_dir(self, ctx: TaskContext) -> Path:
        execution = ctx.task_execution_id.node_execution_id.execution_id
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
        digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
        return Path(self.settings.work_dir) / RANK_FOLDER / f"{ctx.attempt}-{digest}"

    def _launch_context(self, ctx: TaskContext) -> TaskContext:
        """``ctx`` with the task's container running ``_launch.py`` over the task's program."""
        job = read_job(ctx.task)
        container = ctx.task.container
        if not ctx.task.HasField("container") or not (container.command or container.args):
            raise CommandError("it has no container command line to run on each rank")
        program = program_of([*container.command, *container.args])
        launched = tasks_pb2.TaskTemplate()
        launched.CopyFrom(ctx.task)
        del launched.container.command[:]
        del launched.container.args[:]
        launched.container.args.extend(
            [
                sys.executable,
                "-I",
                str(LAUNCH_SCRIPT),
                self.settings.mpirun,
                str(job.ranks),
                str(self._rank_dir(ctx)),
                str(float(self.settings.error_grace_period)),
                json.dumps(self.settings.mpirun_flags),
                "--",
                *program,
            ]
        )
        return dataclasses.replace(ctx, task=launched)

    def _report(self, ctx: TaskContext, ranks: Path) -> None:
        """Put the gang's result under the output prefix: the first failed rank's error, else rank 0's."""
        task = ctx.task.id.name
        size = read_job(ctx.task).ranks
        done = json.loads((ranks / "done.json").read_text())
        if "start_error" in done:
            ctx.storage.write_proto(ctx.error_uri, _launcher_error(task, self.settings.mpirun, done))
            return
        failed = _first_failure(ranks)
        if failed is not None:
            document = _rank_error(task, size, ranks, failed)
            ctx.storage.write_proto(ctx.error_uri, document)
            return
        if done.get("returncode") != 0:
            return  # local-process reports the exit and mpirun's stderr
        out = ranks / "0" / "out"
        for name in _RESULT_FILES:
            if (out / name).is_file():
                ctx.storage.write(ctx.storage.join(ctx.output_prefix, name), (out / name).read_bytes())
                return


def _first_failure(ranks: Path) -> dict[str, Any] | None:
    """The exit record of the rank that failed first by itself (not one that mpirun stopped because another
    failed)."""
    failures = []
    for record in ranks.glob("*/exit.json"):
        with contextlib.suppress(OSError, ValueError):
            exit_ = json.loads(record.read_text())
            if (
                "start_error" in exit_
                or exit_.get("error_document")
                or (exit_.get("returncode") not in (0, None) and not exit_.get("stopped"))
            ):
                failures.append(exit_)
    return min(failures, key=lambda e: (float(e.get("ended", 0)), int(e["rank"])), default=None)


def _rank_error(task: str, size: int, ranks: Path, failed: dict[str, Any]) -> errors_pb2.ErrorDocument:
    """The error document of the attempt, naming the rank that failed."""
    rank = int(failed["rank"])
    where = f"task {task!r}: rank {rank} of {size}"
    written = ranks / str(rank) / "out" / "error.pb"
    if failed.get("error_document") and written.is_file():
        with contextlib.suppress(DecodeError):
            document = errors_pb2.ErrorDocument.FromString(written.read_bytes())
            if document.HasField("error"):
                document.error.message = f"{where} failed: {document.error.message}"
                return document
    if "start_error" in failed:
        what = f"could not start: {failed['start_error']}"
    else:
        what = _describe_exit(int(failed["returncode"]))
    message = f"{where} {what}; {_stderr_tail(ranks / str(rank) / 'stderr.log')}"
    return errors_pb2.ErrorDocument(
        error=errors_pb2.ContainerError(
            code="RankFailed",
            message=message,
            kind=errors_pb2.ContainerError.RECOVERABLE,
            origin=execution_pb2.ExecutionError.USER,
        )
    )


def _launcher_error(task: str, mpirun: str, done: dict[str, Any]) -> errors_pb2.ErrorDocument:
    """The error document of an attempt whose ``mpirun`` did not start."""
    reason = "it is not on the task's PATH" if done.get("errno") == errno.ENOENT else str(done["start_error"])
    return errors_pb2.ErrorDocument(
        error=errors_pb2.ContainerError(
            code="MPILauncherNotStarted",
            message=f"task {task!r}: cannot start the MPI launcher {mpirun!r}: {reason}; install roost-mpi[local] "
            "(Open MPI and mpi4py) in the task's environment, or set engine.handlers.mpi-local.mpirun",
            kind=errors_pb2.ContainerError.NON_RECOVERABLE,
            origin=execution_pb2.ExecutionError.USER,
        )
    )


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
        lines = path.read_bytes()[-16384:].decode("utf-8", errors="replace").splitlines()[-STDERR_TAIL_LINES:]
    except OSError:
        return "its stderr log is gone"
    if not any(line.strip() for line in lines):
        return "its stderr was empty"
    return "last lines of its stderr:\n" + "\n".join(lines)
