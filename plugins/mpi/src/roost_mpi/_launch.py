"""Starts a local MPI task's ranks under ``mpirun``; the MPI handler makes it the task's command.

Usage: ``python -I _launch.py MPIRUN RANKS RANK_DIR GRACE EXTRA_FLAGS_JSON -- PROGRAM...``. Standard
library only, so it runs in isolated mode with whatever Python the engine has.

It asks ``MPIRUN --version`` which implementation it is, to pass the flags a one-machine run needs (Open MPI:
run as root when root, more ranks than cores, no binding), then runs each rank through ``_rank.py`` (see
there). SIGTERM (an abort) is passed to ``mpirun``, which ends the ranks. ``RANK_DIR/done.json`` records
``mpirun``'s exit code, and this process exits with it; or why ``mpirun`` could not start (then it exits 0:
the handler reports the error).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

RANK_SCRIPT = Path(__file__).with_name("_rank.py")


def implementation(mpirun: str) -> str:
    """``"openmpi"``, ``"mpich"`` or ``""`` (unknown), from ``mpirun --version``."""
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
        return "openmpi"
    if "hydra" in text or "mpich" in text:
        return "mpich"
    return ""


def local_flags(kind: str) -> list[str]:
    """What ``mpirun`` needs to run every rank on this machine."""
    if kind == "openmpi":
        root = ["--allow-run-as-root"] if os.geteuid() == 0 else []
        return [*root, "--oversubscribe", "--bind-to", "none"]
    return []


def _write_done(path: Path, data: dict[str, object]) -> None:
    path.with_suffix(".tmp").write_text(json.dumps(data))
    os.replace(path.with_suffix(".tmp"), path)


def main(argv: list[str]) -> int:
    """Run the ranks described by ``argv`` (see the module docstring)."""
    mpirun, ranks, rank_dir, grace, extra, separator, *program = argv[1:]
    if separator != "--" or not program:
        raise SystemExit("usage: _launch.py MPIRUN RANKS RANK_DIR GRACE EXTRA_FLAGS_JSON -- PROGRAM...")
    Path(rank_dir).mkdir(parents=True, exist_ok=True)
    command = [
        mpirun,
        *local_flags(implementation(mpirun)),
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
    try:
        launcher = subprocess.Popen(command, stdin=subprocess.DEVNULL)
    except OSError as exc:
        _write_done(
            done, {"start_error": exc.strerror or str(exc), "errno": exc.errno or 0, "command": command}
        )
        return 0

    def on_terminate(signum: int, frame: FrameType | None) -> None:
        with contextlib.suppress(ProcessLookupError):
            launcher.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_terminate)
    signal.signal(signal.SIGINT, on_terminate)
    returncode = launcher.wait()
    _write_done(done, {"returncode": returncode, "command": command})
    return returncode if returncode >= 0 else 128 - returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv))
