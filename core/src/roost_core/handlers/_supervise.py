"""Runs one local task process and records how it ended. Started by the local-process handler.

Usage: ``python -I _supervise.py SPEC_JSON``. It uses only the standard library, so it runs in
isolated mode whatever the task's environment holds.

The handler starts it in a new session, so it leads its own process group, with the attempt's lock
file open. The lock stays held exactly as long as this process lives: that is how a handler (in
this engine process or a later one) tells a live attempt from a vanished one. The supervisor

1. records its pid and start time in the spec's ``process`` file;
2. starts the task, stdout and stderr appended to the log files, unless the attempt was aborted;
3. on SIGTERM (an abort, sent to the whole group) lets the task stop on its own, and SIGKILLs the
   task and its descendants once ``kill_grace_period`` seconds passed;
4. when the task ended, writes the ``result`` file atomically (``{"returncode": N}``, negative for
   a signal; ``{"start_error": ...}`` when the command could not start; ``{"aborted": true}``),
   then kills whatever the task left, as a container runtime does when the main process exits.

It is its descendants' reaper (``PR_SET_CHILD_SUBREAPER``): a process the task started that left the group (a
new session, as daemons make) is handed to it, not to init, when its parent ends, so that the end of the task
and the SIGKILL of an abort reach it too (:func:`kill_descendants`).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, BinaryIO


def process_start_time(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot, from ``/proc``), or None if no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces; count fields after it.
    return int(stat.rpartition(")")[2].split()[19])


def resident_mb(pid: int) -> float:
    """The resident memory of process ``pid`` in MB (0 when unknown: no such process)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def write_json_atomically(path: str, data: dict[str, Any], *, durable: bool = True) -> None:
    """Write ``data`` so that a reader sees the old file, no file, or the whole new one; only the owner may
    read it (a task's spec holds its environment, which may carry credentials). ``durable`` syncs it to disk
    first, so that it survives a crash of the machine too."""
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as stream:
        json.dump(data, stream)
        if durable:
            stream.flush()
            os.fsync(stream.fileno())
    os.replace(temporary, path)


TEMP_VARIABLES = ("TMPDIR", "TEMP", "TMP")
"""The environment variables naming a process's temporary folder (Python's ``tempfile`` reads them in this order)."""


def prepare_attempt(spec_path: str, spec: dict[str, Any]) -> None:
    """In an attempt's folder: make its working and temporary folders and log files, and write its spec (not synced
    to disk: the supervisor started next reads it; after a crash of the machine that supervisor is gone too, and an
    attempt whose folder holds a spec is reported lost and retried, whatever the spec holds)."""
    os.makedirs(spec["cwd"], exist_ok=True)
    os.makedirs(spec["temp"], mode=0o700, exist_ok=True)
    for log in (spec["stdout"], spec["stderr"]):
        os.makedirs(os.path.dirname(log), exist_ok=True)
        os.close(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    write_json_atomically(spec_path, spec, durable=False)


def signal_group(pgid: int, sig: signal.Signals) -> None:
    """Send ``sig`` to the process group ``pgid``, if it is still there."""
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is already gone
        os.killpg(pgid, sig)


_PR_SET_CHILD_SUBREAPER = 36
"""prctl(2)'s option making this process the reaper of its descendants' orphans (Linux 3.4+)."""


def become_subreaper() -> None:
    """Have the orphans among this process's descendants handed to it rather than to init (best effort: where
    the system refuses, descendants that left the task's process group outlive it, as before)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _children() -> list[int]:
    """This process's children, zombies included (none where ``/proc`` does not list them)."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for thread in os.listdir("/proc/self/task"):
            with contextlib.suppress(OSError):
                found.extend(
                    int(pid) for pid in Path(f"/proc/self/task/{thread}/children").read_text().split()
                )
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


_DESCENDANT_ROUNDS = 1000
"""At most this many rounds of :func:`kill_descendants` (each a generation, handed over as its parents die)."""


def kill_descendants() -> None:
    """SIGKILL every descendant of this process (a subreaper, see :func:`become_subreaper`), with the process group
    of any that leads one other than ours; round after round, as the orphans of the killed ones are handed to
    this process, until no child is left alive. Their zombies are left to whoever reaps this process's children."""
    ours = os.getpgrp()
    for _ in range(_DESCENDANT_ROUNDS):
        alive = [pid for pid in _children() if _alive(pid)]
        if not alive:
            return
        for pid in alive:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                group = os.getpgid(pid)
                if group != ours:
                    os.killpg(group, signal.SIGKILL)
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.001)  # their exits hand their own children over to this process


def _kill_group() -> None:
    kill_descendants()
    os.killpg(os.getpgrp(), signal.SIGKILL)


TaskStarter = Callable[[dict[str, Any], BinaryIO, BinaryIO], Callable[[], int]]
"""Starts the task of a spec with stdout and stderr going to the given files; returns a function waiting for its
exit status (negative for a signal). Raises OSError when the task could not start."""


def start_process(spec: dict[str, Any], stdout: BinaryIO, stderr: BinaryIO) -> Callable[[], int]:
    """The cold start: the task's command line as a new process."""
    task = subprocess.Popen(
        spec["argv"],
        env=spec["env"],
        cwd=spec["cwd"],
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
    )
    return task.wait


def supervise(spec: dict[str, Any], start: TaskStarter) -> int:
    """Supervise the task of ``spec``, started by ``start``; shared by cold and warm (forked) supervisors."""
    terminating = threading.Event()

    def on_terminate(signum: int, frame: FrameType | None) -> None:
        if not terminating.is_set():
            terminating.set()
            # Only the descendants: the last sweep and the group's SIGKILL are the main thread's, once it reaped the
            # task. /proc's list of children may skip one while another thread reaps, and a sweep that missed an
            # escaped child before the group's SIGKILL ended this process would leave that child running.
            timer = threading.Timer(float(spec["kill_grace_period"]), kill_descendants)
            timer.daemon = True
            timer.start()

    signal.signal(signal.SIGTERM, on_terminate)
    become_subreaper()
    pid = os.getpid()
    # Not synced to disk: after a crash of the machine this process is gone whatever the file says.
    write_json_atomically(spec["process"], {"pid": pid, "start_time": process_start_time(pid)}, durable=False)
    # An abort that came before the process file existed could not signal us; it left this marker.
    if terminating.is_set() or os.path.exists(spec["abort_marker"]):
        write_json_atomically(spec["result"], {"aborted": True})
        return 0
    try:
        with open(spec["stdout"], "ab") as stdout, open(spec["stderr"], "ab") as stderr:
            wait = start(spec, stdout, stderr)
    except OSError as exc:
        write_json_atomically(
            spec["result"],
            {
                "start_error": exc.strerror or str(exc),
                "errno": exc.errno or 0,
            },
        )
        return 0
    returncode = wait()
    # OSError: the attempt folder was removed (finalized), so nobody will read the result.
    with contextlib.suppress(OSError):
        write_json_atomically(spec["result"], {"returncode": returncode})
    _kill_group()
    return 0


def main(argv: list[str]) -> int:
    """Supervise the task described by the spec file ``argv[1]``, started cold."""
    return supervise(json.loads(Path(argv[1]).read_text()), start_process)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
