"""Starts a local MPI task's ranks under ``mpirun``; the MPI handler makes it the task's command.

Usage: ``python -I _launch.py MPIRUN RANKS RANK_DIR GRACE EXTRA_FLAGS_JSON -- PROGRAM...``. Standard
library only, so it runs in isolated mode with whatever Python the engine has.

It asks ``MPIRUN --version`` which implementation it is, to pass the flags a one-machine run needs (Open MPI:
run as root when root, more ranks than cores, no binding) and its one-machine transports (Open MPI:
``OMPI_MCA_btl=self,sm`` unless the environment names transports; its default list includes libfabric's, whose
probing costs each rank about a second in ``MPI_Init``), then runs each rank through ``_rank.py`` (see
there). When the program is ``roost-execute`` it first starts the attempt's zygote (``_zygote.py``), from which
the wrappers have the ranks forked, and stops it when ``mpirun`` ended. SIGTERM (an abort) is passed to ``mpirun``, which ends the ranks. ``RANK_DIR/done.json`` records
``mpirun``'s exit code, and this process exits with it; or why ``mpirun`` could not start (then it exits 0:
the handler reports the error).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import FrameType

RANK_SCRIPT = Path(__file__).with_name("_rank.py")
ZYGOTE_VARIABLE = "ROOST_MPI_ZYGOTE"
"""Where the ranks' wrappers find the zygote's socket (see ``_rank.py``)."""
ZYGOTE_SOCKET = "zygote.sock"
ZYGOTE_START_TIMEOUT = 60.0
"""Seconds the zygote may take to listen; the ranks start without it after that."""
_PR_SET_PDEATHSIG = 1


def implementation(mpirun: str) -> str:
    """``"openmpi"`` (``"openmpi4"`` before Open MPI 5), ``"mpich"`` or ``""`` (unknown), from
    ``mpirun --version``."""
    try:
        run = subprocess.run(
            [mpirun, "--version"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except OSError:
        return ""
    text = (run.stdout + run.stderr).lower()
    if "open mpi" in text or "open-mpi" in text or "openrte" in text:
        version = re.search(r"\)\s*(\d+)\.", text)
        return "openmpi4" if version is not None and int(version.group(1)) < 5 else "openmpi"
    if "hydra" in text or "mpich" in text:
        return "mpich"
    return ""


def local_flags(kind: str) -> list[str]:
    """What ``mpirun`` needs to run every rank on this machine."""
    if kind.startswith("openmpi"):
        root = ["--allow-run-as-root"] if os.geteuid() == 0 else []
        return [*root, "--oversubscribe", "--bind-to", "none"]
    return []


def local_environment(kind: str, environ: Mapping[str, str]) -> dict[str, str]:
    """What ``mpirun``'s environment gains for a one-machine run: Open MPI's shared-memory transports, unless
    ``environ`` chooses transports itself (a ``--mca btl`` flag overrides this too)."""
    if not kind.startswith("openmpi") or "OMPI_MCA_btl" in environ:
        return {}
    return {"OMPI_MCA_btl": "self,vader" if kind == "openmpi4" else "self,sm"}


def _forkable(program: list[str]) -> bool:
    """Whether the ranks' program is ``roost-execute``, which the zygote can fork."""
    return os.path.basename(program[0]) == "roost-execute"


def _python_of(script: str) -> str | None:
    """The Python a console script runs with (its ``#!`` line), if it is one."""
    found = shutil.which(script)
    if found is None:
        return None
    with contextlib.suppress(OSError), open(found, "rb") as stream:
        first = stream.readline(4096).decode(errors="replace")
        interpreter = first[2:].strip() if first.startswith("#!") else ""
        if interpreter and " " not in interpreter and os.path.basename(interpreter).startswith("python"):
            return interpreter
    return None


def _die_with_parent() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _start_zygote(program: list[str], folder: Path) -> subprocess.Popen[bytes] | None:
    """The attempt's zygote (``_zygote.py``) in the Python of the task's ``roost-execute``, once it listens; None
    when it cannot start (the ranks then start ``roost-execute`` themselves)."""
    python = _python_of(program[0])
    if python is None:
        return None
    try:
        zygote = subprocess.Popen(
            [python, "-m", "roost_mpi._zygote", str(folder / ZYGOTE_SOCKET)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 (no thread runs in this process)
        )
    except OSError:
        return None
    assert zygote.stdout is not None
    ready = select.select([zygote.stdout], [], [], ZYGOTE_START_TIMEOUT)[0] and zygote.stdout.readline()
    zygote.stdout.close()
    if ready != b"ready\n":
        _stop_zygote(zygote, None)
        return None
    return zygote


def _stop_zygote(zygote: subprocess.Popen[bytes] | None, folder: Path | None) -> None:
    if zygote is not None:
        with contextlib.suppress(ProcessLookupError):
            zygote.kill()
        zygote.wait()
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def _write_done(path: Path, data: dict[str, object]) -> None:
    path.with_suffix(".tmp").write_text(json.dumps(data))
    os.replace(path.with_suffix(".tmp"), path)


def main(argv: list[str]) -> int:
    """Run the ranks described by ``argv`` (see the module docstring)."""
    mpirun, ranks, rank_dir, grace, extra, separator, *program = argv[1:]
    if separator != "--" or not program:
        raise SystemExit("usage: _launch.py MPIRUN RANKS RANK_DIR GRACE EXTRA_FLAGS_JSON -- PROGRAM...")
    Path(rank_dir).mkdir(parents=True, exist_ok=True)
    # A short folder: a Unix socket's path holds 107 bytes at most.
    zygote_folder = Path(tempfile.mkdtemp(prefix="roost-mpi-")) if _forkable(program) else None
    kind = implementation(mpirun)
    command = [
        mpirun,
        *local_flags(kind),
        *json.loads(extra),
        "-np",
        ranks,
        sys.executable,
        "-I",
        str(RANK_SCRIPT),
        rank_dir,
        grace,
        "--",
        *program,
    ]
    done = Path(rank_dir) / "done.json"
    environment = {**os.environ, **local_environment(kind, os.environ)}
    zygote = _start_zygote(program, zygote_folder) if zygote_folder is not None else None
    if zygote is not None and zygote_folder is not None:
        environment[ZYGOTE_VARIABLE] = str(zygote_folder / ZYGOTE_SOCKET)
    try:
        launcher = subprocess.Popen(command, stdin=subprocess.DEVNULL, env=environment)
    except OSError as exc:
        _write_done(
            done, {"start_error": exc.strerror or str(exc), "errno": exc.errno or 0, "command": command}
        )
        _stop_zygote(zygote, zygote_folder)
        return 0

    def on_terminate(signum: int, frame: FrameType | None) -> None:
        with contextlib.suppress(ProcessLookupError):
            launcher.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_terminate)
    signal.signal(signal.SIGINT, on_terminate)
    returncode = launcher.wait()
    _stop_zygote(zygote, zygote_folder)
    _write_done(done, {"returncode": returncode, "command": command})
    return returncode if returncode >= 0 else 128 - returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv))
