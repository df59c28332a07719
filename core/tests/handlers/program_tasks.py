"""What the handler tests share beyond the plugin test kit: task_program.py as a task, and process checks."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from flyteidl.core import tasks_pb2

from roost_core.testing.tasks import container_task

PROGRAM = Path(__file__).with_name("task_program.py")


def program_task(
    mode: str,
    *extra: str,
    outputs: Sequence[str] = (),
    inputs: Sequence[str] = (),
    image: str = "tests/image:1",
    env: Mapping[str, str] | None = None,
    command: Sequence[str] | None = None,
) -> tasks_pb2.TaskTemplate:
    """A python-task running task_program.py in ``mode`` with the usual contract arguments."""
    return container_task(
        list(command) if command is not None else [sys.executable, str(PROGRAM)],
        [mode, "{{.input}}", "{{.outputPrefix}}", *extra],
        inputs=inputs,
        outputs=outputs,
        image=image,
        env=env,
    )
