"""MPI task command lines: the one an MPI task registers, and how a local run reads it back.

An MPI task's container args are ``mpirun <flags> -np N <program>``, as flytekitplugins-kfmpi writes them
(on Kubernetes the MPI operator's launcher runs them, with its hostfile). A local run keeps only
``<program>`` and starts it under this machine's ``mpirun`` with its own flags. flytekit's program starts
with ``python /opt/venv/bin/entrypoint.py``, the path of flytekit's entry point in its image; the
sub-command after it (``pyflyte-execute``, ``pyflyte-fast-execute``) is the console script of the same
name, which a local run calls instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath

__all__ = ["FAST_EXECUTE_NAMES", "MPIRUN_FLAGS", "MPIRUN_NAMES", "CommandError", "program_of", "task_command"]

MPIRUN_FLAGS = (
    "--allow-run-as-root",
    "-bind-to",
    "none",
    "-map-by",
    "slot",
    "-x",
    "LD_LIBRARY_PATH",
    "-x",
    "PATH",
    "-x",
    "NCCL_DEBUG=INFO",
    "-mca",
    "pml",
    "ob1",
    "-mca",
    "btl",
    "^openib",
)
"""The ``mpirun`` flags flytekitplugins-kfmpi registers (the MPI operator's launcher supplies the hosts)."""
MPIRUN_NAMES = frozenset({"mpirun", "mpiexec", "prterun", "orterun"})
"""Launcher programs a command line may start with."""
FAST_EXECUTE_NAMES = frozenset({"pyflyte-fast-execute", "roost-fast-execute"})
"""Commands that download fast-registered code, then run the command line after their ``--``."""
_RANK_COUNT_FLAGS = frozenset({"-np", "-n", "--np", "--n", "-c"})
_FLYTEKIT_ENTRYPOINT = "entrypoint.py"


class CommandError(ValueError):
    """A command line that is not an MPI task's."""


def task_command(ranks: int, program: Sequence[str]) -> list[str]:
    """``mpirun <flags> -np ranks <program>``: an MPI task's container args."""
    return ["mpirun", *MPIRUN_FLAGS, "-np", str(ranks), *program]


def program_of(argv: Sequence[str]) -> list[str]:
    """The program each rank runs, from a task's command line (see the module docstring).

    Fast registration puts its code download first (``pyflyte-fast-execute ... -- mpirun ...``, as flytekit
    registers MPI tasks); the download then stays in front of the program, so each rank gets the code. A
    command line without ``mpirun`` is the program itself.
    """
    args = list(argv)
    download: list[str] = []
    if args and PurePosixPath(args[0]).name in FAST_EXECUTE_NAMES and "--" in args:
        end = args.index("--") + 1
        download, args = args[:end], args[end:]
    if args and PurePosixPath(args[0]).name in MPIRUN_NAMES:
        count_at = next((i for i, arg in enumerate(args) if arg in _RANK_COUNT_FLAGS), None)
        if count_at is None or count_at + 2 > len(args):
            raise CommandError(f"its command line {' '.join(args)!r} gives mpirun no -np")
        args = args[count_at + 2 :]
        if not args:
            raise CommandError(f"its command line {' '.join(argv)!r} gives mpirun no program")
    if (
        len(args) >= 3
        and PurePosixPath(args[0]).name.startswith("python")
        and PurePosixPath(args[1]).name == _FLYTEKIT_ENTRYPOINT
    ):
        args = args[2:]
    return [*download, *args]
