"""flytekit tasks that crash their process, one that tells how its process started, a map task whose indices
tell where their code came from (and a chain of that task), and one that leaves scratch files behind, for the
warm-process end-to-end test."""

import ctypes
import os
import tempfile
from pathlib import Path

from flytekit import WorkflowFailurePolicy, current_context, map_task, task, workflow

IMPORTED_IN = os.getpid()
"""The process that imported this module."""
IMPORTED_BESIDE_ITS_CODE = Path("crashes.py").exists()
"""Whether the working directory held the fast-registered code when this module was imported, as in a task's
container."""


@task
def crash(how: str) -> str:
    """Ends its process without a word: ``os._exit(3)``, or a segmentation fault."""
    if how == "exit":
        os._exit(3)
    ctypes.string_at(0)
    return how


@task
def lineage() -> str:
    """``warm from PID`` when this process was forked from a warm server (forks keep their parent's command
    line: the task, its supervisor and the server run ``_warm.py``), else ``cold``."""
    server, pid = None, os.getpid()
    while any(part.endswith(b"_warm.py") for part in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")):
        server = pid
        pid = int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])
    return "cold" if server is None else f"warm from {server}"


@workflow(failure_policy=WorkflowFailurePolicy.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE)
def crash_beside_lineage(how: str) -> str:
    """A task that crashes beside one that runs on."""
    crash(how=how)
    return lineage()


@task
def code_origin(x: int) -> str:
    """``before:N:WHERE`` when this module was imported before the index's process was forked (a warm batch imports
    it once for its indices), ``here:N:WHERE`` when in that process; N: how many indices wrote a line into the copy of
    this module that fast registration left in the index's working directory (1 when each index has a copy of its
    own); WHERE: ``beside`` when the module was imported in a working directory holding that code."""
    with open("crashes.py", "a") as copy:
        copy.write(f"# index {x}\n")
    written = sum(line.startswith("# index ") for line in Path("crashes.py").read_text().splitlines())
    where = "beside" if IMPORTED_BESIDE_ITS_CODE else "elsewhere"
    return f"{'here' if os.getpid() == IMPORTED_IN else 'before'}:{written}:{where}"


@workflow
def code_origins(xs: list[int]) -> list[str]:
    """A map of code_origin over xs."""
    return map_task(code_origin)(x=xs)


@workflow
def code_origin_chain() -> tuple[str, str, str, str]:
    """code_origin four times, one after another (a chain of one fast-registered task)."""
    first = code_origin(x=1)
    second = code_origin(x=2)
    third = code_origin(x=3)
    fourth = code_origin(x=4)
    first >> second >> third >> fourth
    return first, second, third, fourth


@task
def scratch() -> list[str]:
    """Leaves a file in flytekit's working directory and a folder from ``tempfile`` behind, and says where."""
    kept = Path(current_context().working_directory, "kept.txt")
    kept.write_text("kept")
    return [str(kept), tempfile.mkdtemp(prefix="kept-")]
