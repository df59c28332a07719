"""flytekit tasks that crash their process, and one that tells how its process started, for the warm-process
end-to-end test."""

import ctypes
import os
from pathlib import Path

from flytekit import WorkflowFailurePolicy, task, workflow


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
