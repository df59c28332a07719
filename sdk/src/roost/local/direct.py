"""Calling a task directly, outside any workflow: its code runs here, with inputs and outputs converted
through literals exactly as in a real run (so type errors show up the same way)."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from roost import _typing
from roost.errors import TaskExecutionError
from roost.local.relocate import data_folder, relocate_literals
from roost.local.taskrun import TaskRun, run_task
from roost.plugins.storage import sdk_storage
from roost.types import TypeContext

if TYPE_CHECKING:
    from roost.tasks import Task


def call_task(task: Task, values: dict[str, Any]) -> Any:
    """Run ``task`` on ``values`` and return its outputs as Python values."""
    from flyteidl.core import literals_pb2

    storage = sdk_storage()
    with tempfile.TemporaryDirectory(prefix="roost-call-") as tmp:
        folder = Path(tmp)
        inputs = _typing.literal_map(
            task, values, TypeContext(storage, (folder / "raw").as_uri(), work_dir=folder / "inputs")
        )
        run = TaskRun(
            inputs_uri="",
            output_prefix=(folder / "out").as_uri(),
            raw_output_prefix=(folder / "raw").as_uri(),
            execution_name="direct-call",
            inputs=inputs.SerializeToString(),
        )
        outcome = run_task(task, run, storage, folder / "work")
        if not outcome.ok:
            raise TaskExecutionError(outcome.message)
        outputs_uri = storage.join(run.output_prefix, "outputs.pb")
        if not storage.exists(outputs_uri):
            raise TaskExecutionError(
                f"{task.label} is dynamic: call it inside a workflow, or run it with roost run"
            )
        outputs = storage.read_proto(outputs_uri, literals_pb2.LiteralMap)
        kept_folder = data_folder() / "outputs" / f"call-{uuid.uuid4().hex[:12]}"
        kept, _ = relocate_literals(outputs, run.raw_output_prefix, kept_folder, values_too=False)
        ctx = TypeContext(storage, kept_folder.as_uri(), work_dir=kept_folder)
        return task.interface.pack_outputs(_typing.python_values(task, kept, ctx))
