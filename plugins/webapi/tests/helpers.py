"""What the tests share: templates from the SDK's task classes, contexts, and reading the results."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from flyteidl.core import literals_pb2, tasks_pb2

from roost.serialize import SerializationSettings
from roost.tasks import Task
from roost_core.handler import TaskContext
from roost_core.testing.tasks import task_context

SETTINGS = SerializationSettings(project="proj", domain="dev", version="v7")


def template_of(task: Task) -> tasks_pb2.TaskTemplate:
    """The task's TaskTemplate as registration makes it."""
    return task.template(SETTINGS)


def literal_inputs(task: Task, values: dict[str, Any]) -> literals_pb2.LiteralMap:
    """Python values → the task's input literals, through the SDK's type engine."""
    from roost import _typing

    return literals_pb2.LiteralMap(
        literals={
            name: _typing.to_literal(value, task.interface.inputs[name], where=name)
            for name, value in values.items()
        }
    )


def context(tmp_path: Path, task: Task, values: dict[str, Any] | None = None, **fields: Any) -> TaskContext:
    """A first-round context for ``task`` with ``values`` as its inputs."""
    return task_context(tmp_path, template_of(task), inputs=literal_inputs(task, values or {}), **fields)


def read_results(ctx: TaskContext) -> Any:
    """The ``results`` output of a finished attempt, as a pyarrow table (and its literal)."""
    import pyarrow.parquet

    outputs = ctx.storage.read_proto(ctx.outputs_uri, literals_pb2.LiteralMap)
    dataset = outputs.literals["results"].scalar.structured_dataset
    data = ctx.storage.read(dataset.uri.rstrip("/") + "/00000")
    return pyarrow.parquet.read_table(io.BytesIO(data)), dataset
