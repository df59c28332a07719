"""Running one MPI task through the ``mpi-local`` handler, as the engine builds and drives it."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flyteidl.core import literals_pb2, tasks_pb2

import roost_mpi.engine
from roost.serialize import SerializationSettings, Serializer
from roost.tasks import Task
from roost_core.handler import TaskContext, TaskHandler
from roost_core.testing.harness import build_handler
from roost_core.testing.tasks import task_context

HERE = Path(__file__).parent
SETTINGS = SerializationSettings(project="proj", domain="dev", version="v1", image="tests/image:1")


def template(task: Task) -> tasks_pb2.TaskTemplate:
    """The task as registered."""
    return Serializer(SETTINGS).task(task)


@contextmanager
def mpi_handler(tmp_path: Path, **section: Any) -> Iterator[TaskHandler]:
    """The ``mpi-local`` handler with its work folder under ``tmp_path``; the tasks' ranks import ``mpi_tasks``."""
    pythonpath = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))
    handler = build_handler(
        [roost_mpi.engine],
        "mpi-local",
        section={"work_dir": str(tmp_path / "work"), "kill_grace_period": 3, **section},
        shared={"task_environment": {"env": {"PYTHONPATH": pythonpath}}},
    )
    try:
        yield handler
    finally:
        handler.close()


def context(tmp_path: Path, task: Task | tasks_pb2.TaskTemplate, inputs: Mapping[str, Any]) -> TaskContext:
    """A first-round context with ``inputs`` (ints and strings) written."""
    literals = literals_pb2.LiteralMap()
    for name, value in inputs.items():
        primitive = literals.literals[name].scalar.primitive
        if isinstance(value, str):
            primitive.string_value = value
        else:
            primitive.integer = value
    proto = task if isinstance(task, tasks_pb2.TaskTemplate) else template(task)
    return task_context(tmp_path, proto, inputs=literals)


def integers(literal: literals_pb2.Literal) -> list[int]:
    """A list-of-integers literal as Python."""
    return [item.scalar.primitive.integer for item in literal.collection.literals]
