"""Files and folders passed between flytekit tasks, given as workflow inputs and fetched as outputs, run on
Roost by ``test_flytekit_files.py`` on `roost start`'s default local store.

This module is flytekit user code: it runs in flytekit's own virtualenv (on the client and in the task
processes), never in the test environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from flytekit import ContainerTask, current_context, kwtypes, task, workflow
from flytekit.types.directory import FlyteDirectory
from flytekit.types.file import FlyteFile


@task
def write_note(text: str) -> FlyteFile:
    """A file made in the task's working folder: flytekit uploads it under the raw output prefix."""
    note = Path(current_context().working_directory) / "note.txt"
    note.write_text(text)
    return FlyteFile(str(note))


@task
def read_note(note: FlyteFile) -> str:
    """The file's text, read through flytekit's download."""
    with open(note) as stream:
        return stream.read()


@task
def write_folder(n: int) -> FlyteDirectory:
    """A folder of ``n`` files, each holding its index."""
    folder = Path(current_context().working_directory) / "folder"
    folder.mkdir()
    for index in range(n):
        (folder / f"part-{index}.txt").write_text(str(index))
    return FlyteDirectory(str(folder))


@task
def read_folder(folder: FlyteDirectory) -> str:
    """The folder's entries and what they hold."""
    local = folder.download()
    return " ".join(f"{name}={Path(local, name).read_text()}" for name in sorted(os.listdir(local)))


@task
def shout(note: FlyteFile) -> FlyteFile:
    """A new file from one that arrived: the output fetched by FlyteRemote."""
    with open(note) as stream:
        text = stream.read()
    loud = Path(current_context().working_directory) / "loud.txt"
    loud.write_text(text.upper())
    return FlyteFile(str(loud))


shout_in_a_container = ContainerTask(
    name="files.shout_in_a_container",
    image="alpine:3.20",
    input_data_dir="/var/inputs",
    output_data_dir="/var/outputs",
    inputs=kwtypes(note=FlyteFile),
    outputs=kwtypes(loud=FlyteFile),
    command=["sh", "-c", "tr a-z A-Z < /var/inputs/note > /var/outputs/loud"],
)
"""A raw container: the engine's copilot downloads its input file and uploads its output file."""


@workflow
def container_flow(text: str) -> str:
    """A file from a task into a raw container, and the container's file into the next task."""
    return read_note(note=shout_in_a_container(note=write_note(text=text)))


@workflow
def note_flow(text: str) -> str:
    """A file from one task to the next."""
    return read_note(note=write_note(text=text))


@workflow
def folder_flow(n: int) -> str:
    """A folder from one task to the next."""
    return read_folder(folder=write_folder(n=n))


@workflow
def note_input(note: FlyteFile) -> str:
    """A file given as the workflow's input (uploaded by the client through the DataProxy)."""
    return read_note(note=note)


@workflow
def folder_input(folder: FlyteDirectory) -> str:
    """A folder given as the workflow's input."""
    return read_folder(folder=folder)


@workflow
def shouted(note: FlyteFile) -> FlyteFile:
    """A file in, a file out."""
    return shout(note=note)


@workflow
def folder_output(n: int) -> FlyteDirectory:
    """A folder as the workflow's output."""
    return write_folder(n=n)


@dataclass
class Delivery:
    """A file and a folder travelling inside a dataclass."""

    note: FlyteFile
    folder: FlyteDirectory


@task
def pack(text: str) -> Delivery:
    """A dataclass holding a new file and a new folder."""
    work = Path(current_context().working_directory)
    note = work / "packed.txt"
    note.write_text(text)
    folder = work / "packed"
    folder.mkdir()
    (folder / "inside.txt").write_text("inside")
    return Delivery(note=FlyteFile(str(note)), folder=FlyteDirectory(str(folder)))


@task
def unpack(delivery: Delivery) -> str:
    """What the dataclass brought."""
    with open(delivery.note) as stream:
        text = stream.read()
    return f"{text} {sorted(os.listdir(delivery.folder.download()))}"


@workflow
def dataclass_flow(text: str) -> tuple[str, str]:
    """Files inside a dataclass, by attribute and whole."""
    delivery = pack(text=text)
    return read_note(note=delivery.note), unpack(delivery=delivery)
