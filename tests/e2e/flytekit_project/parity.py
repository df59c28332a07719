"""flytekit features whose server side Roost must match Flyte on, registered with `pyflyte register` and run on
Roost by ``test_flytekit_parity.py``: eager workflows, launch-plan nodes, checkpoints across retries,
``Echo`` in a conditional, files inside dataclasses reached by attribute, and a map task.

This module is flytekit user code: it runs in flytekit's own virtualenv (on the client and in the task
processes), never in the test environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from flows import add, square
from flytekit import LaunchPlan, conditional, current_context, eager, map_task, task, workflow
from flytekit.core.task import Echo
from flytekit.exceptions.user import FlyteRecoverableException
from flytekit.types.directory import FlyteDirectory
from flytekit.types.file import FlyteFile
from flytekit.types.structured import StructuredDataset


@workflow
def inner(x: int) -> int:
    """x² + x."""
    return add(a=square(x=x), b=x)


@workflow
def outer(x: int) -> int:
    """A sub-workflow, then a task: every scope has its start and end nodes."""
    return square(x=inner(x=x))


@eager
async def eager_sum(x: int) -> int:
    """An eager workflow: each task call is an execution the eager task starts through FlyteRemote, and plain
    Python decides what runs next."""
    squared = square(x=x)
    if squared > 10:
        return add(a=squared, b=1)
    return add(a=squared, b=-1)


@task
def stage(x: int) -> str:
    """The task process's STAGE variable (set on the execution that launched this one)."""
    return f"{os.environ.get('STAGE', 'unset')} {x}"


@workflow
def staged(x: int) -> str:
    """One task reading its environment."""
    return stage(x=x)


staged_lp = LaunchPlan.get_or_create(staged, name="staged_lp", default_inputs={"x": 1})
"""A launch plan that parity workflows call as a node."""


@workflow
def calls_launch_plan(x: int) -> str:
    """A launch-plan node: the launch plan runs as a child execution."""
    return staged_lp(x=x)


@task(retries=2)
def resumes(x: int) -> str:
    """Fails twice, checkpointing how far it got; the third attempt reports what each attempt found."""
    checkpoint = current_context().checkpoint
    previous = checkpoint.read()
    seen = previous.decode() if previous else ""
    attempts = seen.count("|")
    if attempts < 2:
        checkpoint.write(f"{seen}{attempts}|".encode())
        raise FlyteRecoverableException(f"attempt {attempts} stops on purpose")
    return f"{seen} {x}"


@workflow
def checkpointed(x: int) -> str:
    """A task resuming from its checkpoint on every retry."""
    return resumes(x=x)


echo = Echo(name="parity.echo", inputs={"a": int})


@workflow
def echo_branch(x: int) -> int:
    """Echo in a conditional: the negative case passes x through unchanged."""
    return conditional("sign").if_(x >= 0).then(square(x=x)).else_().then(echo(a=x))


@dataclass
class Bundle:
    """Data that travels inside a dataclass."""

    table: StructuredDataset
    notes: FlyteFile
    folder: FlyteDirectory
    size: int


@task
def bundle(size: int) -> Bundle:
    """A dataclass holding a dataset, a file and a folder."""
    work = Path(current_context().working_directory)
    notes = work / "notes.txt"
    notes.write_text(f"{size} rows")
    folder = work / "folder"
    folder.mkdir()
    (folder / "a.txt").write_text("a")
    table = StructuredDataset(uri="s3://elsewhere/table.parquet", file_format="parquet")
    return Bundle(table=table, notes=FlyteFile(str(notes)), folder=FlyteDirectory(str(folder)), size=size)


@task
def unpack(table: StructuredDataset, notes: FlyteFile, folder: FlyteDirectory, size: int) -> str:
    """What arrived: the dataset's location and format (from its literal: nothing is read), the file's text, the
    folder's entries."""
    with open(notes) as stream:
        text = stream.read()
    names = sorted(os.listdir(folder.download()))
    stored = table.literal
    assert stored is not None, "the dataset arrived without its literal"
    return f"{stored.uri} {stored.metadata.structured_dataset_type.format} {text} {names} {size}"


@workflow
def by_attribute(size: int) -> str:
    """A task fed from a dataclass's fields by attribute access."""
    made = bundle(size=size)
    return unpack(table=made.table, notes=made.notes, folder=made.folder, size=made.size)


@workflow
def squares(xs: list[int]) -> list[int]:
    """A map task: every index reads the array node's whole inputs from the object store."""
    return map_task(square)(x=xs)
