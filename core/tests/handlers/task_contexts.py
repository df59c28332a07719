"""What the handler tests share: task templates, TaskContexts on file:// storage, a round driver."""

from __future__ import annotations

import dataclasses
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from flyteidl.core import (
    identifier_pb2,
    interface_pb2,
    literals_pb2,
    tasks_pb2,
    types_pb2,
)
from google.protobuf import struct_pb2

from roost_core.handler import TaskContext, TaskHandler, Transition
from roost_core.storage import Storage
from roost_core.storage.file import FileStore
from roost_core.storage.memory import MemoryStore

PROGRAM = Path(__file__).with_name("task_program.py")
WAIT_SECONDS = 60.0
"""How long a test waits for a process before it fails: a hang guard, never a timing assertion."""

INTEGER = types_pb2.LiteralType(simple=types_pb2.SimpleType.INTEGER)


def integer(value: int) -> literals_pb2.Literal:
    """An integer literal."""
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=value)))


def text(value: str) -> literals_pb2.Literal:
    """A string literal."""
    return literals_pb2.Literal(
        scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(string_value=value))
    )


def interface(inputs: Sequence[str] = (), outputs: Sequence[str] = ()) -> interface_pb2.TypedInterface:
    """An interface whose variables are all integers."""
    return interface_pb2.TypedInterface(
        inputs=interface_pb2.VariableMap(variables={n: interface_pb2.Variable(type=INTEGER) for n in inputs}),
        outputs=interface_pb2.VariableMap(
            variables={n: interface_pb2.Variable(type=INTEGER) for n in outputs}
        ),
    )


def task_template(
    task_type: str,
    *,
    name: str = "tests.my_task",
    typed_interface: interface_pb2.TypedInterface | None = None,
    custom: Mapping[str, Any] | None = None,
    container: tasks_pb2.Container | None = None,
) -> tasks_pb2.TaskTemplate:
    """A TaskTemplate with a task id."""
    template = tasks_pb2.TaskTemplate(
        id=identifier_pb2.Identifier(
            resource_type=identifier_pb2.TASK, project="proj", domain="dev", name=name, version="v7"
        ),
        type=task_type,
        interface=typed_interface or interface(),
    )
    if custom is not None:
        template.custom.CopyFrom(_struct(custom))
    if container is not None:
        template.container.CopyFrom(container)
    return template


def _struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(dict(values))
    return struct


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
    container = tasks_pb2.Container(
        image=image,
        command=list(command) if command is not None else [sys.executable, str(PROGRAM)],
        args=[mode, "{{.input}}", "{{.outputPrefix}}", *extra],
        env=[literals_pb2.KeyValuePair(key=k, value=v) for k, v in (env or {}).items()],
    )
    return task_template("python-task", typed_interface=interface(inputs, outputs), container=container)


def task_execution_id(
    *, execution: str = "exec1", node: str = "n0", attempt: int = 0
) -> identifier_pb2.TaskExecutionIdentifier:
    """The identity of one attempt of task tests.my_task."""
    return identifier_pb2.TaskExecutionIdentifier(
        task_id=identifier_pb2.Identifier(
            resource_type=identifier_pb2.TASK,
            project="proj",
            domain="dev",
            name="tests.my_task",
            version="v7",
        ),
        node_execution_id=identifier_pb2.NodeExecutionIdentifier(
            node_id=node,
            execution_id=identifier_pb2.WorkflowExecutionIdentifier(
                project="proj", domain="dev", name=execution
            ),
        ),
        retry_attempt=attempt,
    )


def file_storage(root: Path) -> Storage:
    """file:// storage confined to ``root`` (and mem:// for the refusal tests)."""
    return Storage({"file": FileStore(root=str(root)), "mem": MemoryStore()})


def make_context(
    root: Path,
    task: tasks_pb2.TaskTemplate,
    *,
    inputs: literals_pb2.LiteralMap | None = None,
    config: Mapping[str, Any] | None = None,
    environment: Mapping[str, str] | None = None,
    execution: str = "exec1",
    attempt: int = 0,
    scheme: str = "file",
) -> TaskContext:
    """A first-round context for one attempt, with its inputs written to storage."""
    storage = file_storage(root)
    base = f"file://{root}/data" if scheme == "file" else "mem://tests/data"
    node_dir = f"{base}/{execution}/n0"
    ctx = TaskContext(
        task=task,
        task_execution_id=task_execution_id(execution=execution, attempt=attempt),
        node_id="n0",
        storage=storage,
        inputs_uri=f"{node_dir}/inputs.pb",
        output_prefix=f"{node_dir}/{attempt}",
        raw_output_prefix=f"{base}/raw/{execution}-n0-{attempt}",
        checkpoint_prefix=f"{base}/raw/{execution}-n0-{attempt}/_flytecheckpoints",
        prev_checkpoint_prefix=(
            f"{base}/raw/{execution}-n0-{attempt - 1}/_flytecheckpoints" if attempt else ""
        ),
        environment=dict(environment or {}),
        config=dict(config if config is not None else {"work_dir": str(root / "work")}),
    )
    storage.write_proto(ctx.inputs_uri, inputs or literals_pb2.LiteralMap())
    return ctx


class Driver:
    """Calls ``handle`` round by round as the engine would, keeping the state between rounds."""

    def __init__(self, handler: TaskHandler, ctx: TaskContext) -> None:
        self.handler = handler
        self.woken = threading.Event()
        self.ctx = dataclasses.replace(ctx, notify=self.woken.set)

    def round(self) -> Transition:
        """One call of ``handle``."""
        transition = self.handler.handle(self.ctx)
        if transition.state is not None:
            self.ctx = dataclasses.replace(self.ctx, state=dict(transition.state))
        return transition

    def until_done(self) -> Transition:
        """Rounds until a terminal phase, waiting for the handler's wake-up between them."""
        while True:
            self.woken.clear()
            transition = self.round()
            if transition.phase.is_terminal:
                return transition
            if not self.woken.wait(WAIT_SECONDS):
                pytest.fail(f"the handler did not wake the engine within {WAIT_SECONDS} s")


def wait_until(condition: Any, what: str) -> None:
    """Poll ``condition`` until it holds; fail the test after WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


def process_gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (absent, or a zombie waiting to be reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"
