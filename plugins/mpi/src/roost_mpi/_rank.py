"""Runs one rank of a local MPI task and records how it ended. ``mpirun`` starts one per rank.

Usage: ``python -I _rank.py RANK_DIR GRACE -- PROGRAM...``. Standard library only, so it runs in isolated
mode whatever the task's environment holds.

- The rank (``OMPI_COMM_WORLD_RANK``, ``PMI_RANK`` or ``PMIX_RANK``) gets its own folder ``RANK_DIR/<rank>``:
  the program's ``--output-prefix`` is replaced by ``<rank>/out`` (the engine uploads rank 0's result), and an
  absolute ``--dest-dir`` (fast-registered code) by ``<rank>/code``, so ranks never write the same files.
  The program gets ``ROOST_MPI_LOCAL_RANK``: Roost's tasks then leave naming a failed rank to the handler.
- This process dies with the ``mpirun`` daemon that started it, and the program, its child, dies with this
  process (``PR_SET_PDEATHSIG``), so when ``mpirun`` ends, however it ends, nothing is left behind. SIGTERM is
  passed on to the program. A ``roost-execute`` program is forked by the attempt's zygote when there is one
  (``ROOST_MPI_ZYGOTE``, see ``_zygote.py``) instead: it then dies when its lifeline pipe, whose write end only
  this process holds, closes.
- A task SDK that catches the user's exception writes ``error.pb`` and then exits normally, and its MPI
  library's finalize waits for ranks that wait for it: a hang. So once ``error.pb`` shows up and the
  program has not exited within ``GRACE`` seconds, it is killed. A rank that left an error document exits
  non-zero either way, which makes ``mpirun`` end every other rank.
- ``<rank>/exit.json`` records the exit (return code, whether an error document was written, whether the
  rank was stopped from outside, and when); ``<rank>/stderr.log`` keeps its stderr, also passed on.
"""

from __future__ import annotations

import array
import contextlib
import ctypes
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import IO

RANK_VARIABLES = ("OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK")
ZYGOTE_VARIABLE = "ROOST_MPI_ZYGOTE"
"""The socket of the attempt's zygote (``_zygote.py``), set by ``_launch.py`` when it started one."""
LOCAL_RANK_VARIABLE = "ROOST_MPI_LOCAL_RANK"
"""Tells the SDK side (``roost_mpi.sdk``) that this wrapper names failed ranks (set for the program)."""
_PR_SET_PDEATHSIG = 1
_POLL = 0.05


def rank_of(environ: dict[str, str] | os._Environ[str]) -> int:
    """This process's rank, from the variables MPI launchers set."""
    for name in RANK_VARIABLES:
        if environ.get(name, "").isdigit():
            return int(environ[name])
    raise SystemExit(f"roost-mpi: no rank in the environment (none of {', '.join(RANK_VARIABLES)} is set)")


def rank_program(program: list[str], folder: Path) -> list[str]:
    """``program`` with its output prefix and fast-registration folder moved into the rank's ``folder``."""
    result = list(program)
    for index, arg in enumerate(result[:-1]):
        if arg == "--output-prefix":
            result[index + 1] = (folder / "out").as_uri()
        elif arg == "--dest-dir" and os.path.isabs(result[index + 1]):
            result[index + 1] = str(folder / "code")
    return result


def _die_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _pump(source: IO[bytes], copies: tuple[IO[bytes], ...]) -> None:
    for line in iter(source.readline, b""):
        for copy in copies:
            with contextlib.suppress(OSError, ValueError):
                copy.write(line)
                copy.flush()


class _Forked:
    """A rank's program forked by the attempt's zygote (``_zygote.py``): what this wrapper uses of ``Popen``."""

    def __init__(
        self, conn: socket.socket, answers: IO[bytes], pid: int, stderr: IO[bytes], lifeline: int
    ) -> None:
        self.pid = pid
        self.stderr = stderr
        self.returncode: int | None = None
        self._conn = conn
        self._answers = answers  # unbuffered, so that select() on the socket sees what is left to read
        self._lifeline = lifeline  # its write end: the child dies when this process does

    def poll(self) -> int | None:
        if self.returncode is None and select.select([self._conn], [], [], 0)[0]:
            self._read()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            if not select.select([self._conn], [], [], timeout)[0]:
                raise subprocess.TimeoutExpired("rank", timeout or 0.0)
            self._read()
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def _read(self) -> None:
        line = self._answers.readline()
        # No answer: the zygote died, and the rank (its child) with it.
        self.returncode = int(json.loads(line)["returncode"]) if line else -signal.SIGKILL
        os.close(self._lifeline)


def _forked(argv: list[str], env: dict[str, str]) -> _Forked | None:
    """The rank's ``roost-execute`` forked by the attempt's zygote, if ``_launch.py`` started one (its socket in
    ``ROOST_MPI_ZYGOTE``) and the program is ``roost-execute``; None to start it here."""
    path = os.environ.get(ZYGOTE_VARIABLE)
    if not path or os.path.basename(argv[0]) != "roost-execute":
        return None
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stderr_read, stderr_write = os.pipe()
    lifeline_read, lifeline_write = os.pipe()
    try:
        conn.connect(path)
        request = {"argv": argv, "env": env, "cwd": os.getcwd()}
        payload = json.dumps(request).encode() + b"\n"
        fds = array.array("i", [sys.stdout.fileno(), stderr_write, lifeline_read])
        conn.sendmsg([payload], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
        answers: IO[bytes] = conn.makefile("rb", buffering=0)  # type: ignore[assignment]
        pid = int(json.loads(answers.readline())["pid"])
    except (OSError, ValueError, KeyError):
        conn.close()
        for fd in (stderr_read, stderr_write, lifeline_read, lifeline_write):
            os.close(fd)
        return None
    os.close(stderr_write)
    os.close(lifeline_read)
    return _Forked(conn, answers, pid, os.fdopen(stderr_read, "rb"), lifeline_write)


def _write_json(path: Path, data: dict[str, object]) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data))
    os.replace(temporary, path)


def main(argv: list[str]) -> int:
    """Run the rank described by ``argv`` (see the module docstring)."""
    rank_dir, grace, separator, *program = argv[1:]
    if separator != "--" or not program:
        raise SystemExit("usage: _rank.py RANK_DIR GRACE -- PROGRAM...")
    # Die with mpirun's daemon whatever kills it (it puts ranks in process groups of their own, which a
    # kill of the attempt's group does not reach); then the program dies with this process.
    parent = os.getppid()
    _die_with_parent()
    if os.getppid() != parent:
        return 1
    rank = rank_of(os.environ)
    folder = Path(rank_dir) / str(rank)
    (folder / "code").mkdir(parents=True, exist_ok=True)
    error_document = folder / "out" / "error.pb"
    stopped = threading.Event()
    child: subprocess.Popen[bytes] | _Forked | None = None

    def on_terminate(signum: int, frame: FrameType | None) -> None:
        stopped.set()
        if child is not None:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_terminate)
    signal.signal(signal.SIGINT, on_terminate)
    with open(folder / "stderr.log", "wb") as log:
        argv = rank_program(program, folder)
        env = {**os.environ, LOCAL_RANK_VARIABLE: str(rank)}
        try:
            child = _forked(argv, env) or subprocess.Popen(
                argv,
                env=env,
                stdin=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 (no thread runs yet in this process)
            )
        except OSError as exc:
            _write_json(
                folder / "exit.json",
                {"rank": rank, "start_error": exc.strerror or str(exc), "ended": time.time()},
            )
            return 1
        assert child.stderr is not None
        pump = threading.Thread(target=_pump, args=(child.stderr, (sys.stderr.buffer, log)), daemon=True)
        pump.start()
        _write_json(folder / "rank.json", {"rank": rank, "pid": child.pid})
        kill_at: float | None = None
        killed_after_error = False
        while child.poll() is None:
            if kill_at is None and error_document.exists():
                kill_at = time.monotonic() + float(grace)
            if kill_at is not None and time.monotonic() > kill_at:
                with contextlib.suppress(ProcessLookupError):
                    child.kill()
                killed_after_error = True
                break
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(_POLL)  # returns as soon as the program exits
        returncode = child.wait()
        pump.join(timeout=2)
    wrote_error = error_document.exists()
    _write_json(
        folder / "exit.json",
        {
            "rank": rank,
            "returncode": returncode,
            "error_document": wrote_error,
            "killed_after_error": killed_after_error,
            "stopped": stopped.is_set(),
            "ended": time.time(),
        },
    )
    return 0 if returncode == 0 and not wrote_error else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
