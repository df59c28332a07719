"""Reading an MPI task's command line back: the program each rank runs, for Roost's and flytekit's shapes."""

from __future__ import annotations

import pytest

from roost_mpi.command import MPIRUN_FLAGS, CommandError, program_of, task_command

EXECUTE = ["pyflyte-execute", "--inputs", "{{.input}}", "--output-prefix", "{{.outputPrefix}}"]
DOWNLOAD = [
    "pyflyte-fast-execute",
    "--additional-distribution",
    "s3://b/fast.tar.gz",
    "--dest-dir",
    "/root",
    "--",
]


def test_roosts_command_line() -> None:
    program = ["roost-execute", "--inputs", "{{.input}}"]
    assert task_command(4, program) == ["mpirun", *MPIRUN_FLAGS, "-np", "4", *program]
    assert program_of(task_command(4, program)) == program


def test_flytekits_command_line_loses_its_image_entrypoint() -> None:
    registered = ["mpirun", *MPIRUN_FLAGS, "-np", "4", "python", "/opt/venv/bin/entrypoint.py", *EXECUTE]
    assert program_of(registered) == EXECUTE


def test_fast_registration_keeps_the_download_in_front_of_the_program() -> None:
    flytekit = [
        *DOWNLOAD,
        "mpirun",
        *MPIRUN_FLAGS,
        "-np",
        "2",
        "python",
        "/opt/venv/bin/entrypoint.py",
        *EXECUTE,
    ]
    assert program_of(flytekit) == [*DOWNLOAD, *EXECUTE]
    roost = ["mpirun", *MPIRUN_FLAGS, "-np", "2", *DOWNLOAD, *EXECUTE]
    assert program_of(roost) == [*DOWNLOAD, *EXECUTE]


def test_a_plain_program_is_its_own_program() -> None:
    assert program_of(["python", "train.py"]) == ["python", "train.py"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["mpirun", "python", "x.py"], "its command line 'mpirun python x.py' gives mpirun no -np"),
        (["mpirun", "-np", "2"], "its command line 'mpirun -np 2' gives mpirun no program"),
    ],
)
def test_broken_mpirun_lines_are_refused(argv: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        program_of(argv)
