"""A task that looks for secrets where a task could find them: its environment and the folders of its attempt.
Imported by the task process (the tests put this folder on its PYTHONPATH)."""

from __future__ import annotations

import os
from pathlib import Path

from roost import task, workflow


@task
def peek(needles: list[str]) -> list[str]:
    """Where any of ``needles`` shows up: ``env NAME`` for a variable, ``file PATH`` for a file under the attempt's
    folder (the working folder's parent, which holds the attempt's control files and logs)."""
    found = [f"env {name}" for name, value in os.environ.items() if any(n in value for n in needles)]
    for path in sorted(Path.cwd().parent.rglob("*")):
        if path.is_file():
            text = path.read_bytes().decode(errors="replace")
            found.extend(f"file {path}" for n in needles if n in text)
    return found


@workflow
def snoop(needles: list[str]) -> list[str]:
    """Run peek."""
    return peek(needles=needles)
