"""What the pod tests share: task templates, attempt contexts on file:// storage, a round driver."""

from __future__ import annotations

import dataclasses
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from flyteidl.core import identifier_pb2, interface_pb2, literals_pb2, tasks_pb2, types_pb2

from roost_core.handler import TaskContext, TaskHandler, Transition
from roost_core.storage import Storage
from roost_core.storage.file import FileStore
from roost_core.storage.memory import MemoryStore

PROGRAM = Path(__file__).with_name("task_program.py")
WAIT_SECONDS = 60.0
"""How long a test waits for something before it fails: a hang guard, never a timing assertion."""
INTEGER = types_pb2.LiteralType(simple=types_pb2.SimpleType.INTEGER)
NAMESPACE = "proj-dev"


def integer(value: int) -> literals_pb2.Literal:
    """An integer literal."""
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=value)))


def interface(inputs: Sequence[str] = (), outputs: Sequence[str] = ()) -> interface_pb2.TypedInterface:
    """An interface whose variables are all integers."""

    def variables(names: Sequence[str]) -> interface_pb2.VariableMap:
        return interface_pb2.VariableMap(variables={n: interface_pb2.Variable(type=INTEGER) for n in names})

    return interface_pb2.TypedInterface(inputs=variables(inputs), outputs=variables(outputs))


def program_task(
    mode: str,
    *extra: str,
    inputs: Sequence[str] = (),
    outputs: Sequence[str] = (),
    task_type: str = "python-task",
    image: str = "tests/image:1",
    resources: tasks_pb2.Resources | None = None,
    env: Mapping[str, str] | None = None,
) -> tasks_pb2.TaskTemplate:
    """A task whose container runs task_program.py in ``mode`` with the contract's arguments."""
    container = tasks_pb2.Container(
        image=image,
        command=[sys.executable, str(PROGRAM)],
        args=[mode, "{{.input}}", "{{.outputPrefix}}", *extra],
        resources=resources,
        env=[literals_pb2.KeyValuePair(key=k, value=v) for k, v in (env or {}).items()],
    )
    return tasks_pb2.TaskTemplate(
        id=identifier_pb2.Identifier(
            resource_type=identifier_pb2.TASK,
            project="proj",
            domain="dev",
            name="tests.my_task",
            version="v7",
        ),
        type=task_type,
        interface=interface(inputs, outputs),
        container=container,
    )


def attempt_id(
    *, execution: str = "exec1", node: str = "n0", attempt: int = 0
) -> identifier_pb2.TaskExecutionIdentifier:
    """The identity of one attempt of tests.my_task."""
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


def make_context(
    root: Path,
    task: tasks_pb2.TaskTemplate,
    config: Mapping[str, Any],
    *,
    inputs: Mapping[str, int] | None = None,
    execution: str = "exec1",
    attempt: int = 0,
    labels: Mapping[str, str] | None = None,
    interruptible: bool = False,
    scheme: str = "file",
    **fields: Any,
) -> TaskContext:
    """A first-round context for one attempt, its inputs written to storage."""
    storage = Storage({"file": FileStore(root=str(root)), "mem": MemoryStore()})
    base = f"file://{root}/data" if scheme == "file" else "mem://tests/data"
    node_dir = f"{base}/{execution}/n0"
    ctx = TaskContext(
        task=task,
        task_execution_id=attempt_id(execution=execution, attempt=attempt),
        node_id="n0",
        storage=storage,
        inputs_uri=f"{node_dir}/inputs.pb",
        output_prefix=f"{node_dir}/{attempt}",
        raw_output_prefix=f"{base}/raw/{execution}-n0-{attempt}",
        checkpoint_prefix=f"{node_dir}/{attempt}/_checkpoints",
        prev_checkpoint_prefix="",
        environment={
            "FLYTE_INTERNAL_EXECUTION_ID": execution,
            "FLYTE_INTERNAL_EXECUTION_WORKFLOW": "tests.wf",
        },
        config=dict(config),
        labels=dict(labels or {}),
        interruptible=interruptible,
        **fields,
    )
    literals = {name: integer(value) for name, value in (inputs or {}).items()}
    storage.write_proto(ctx.inputs_uri, literals_pb2.LiteralMap(literals=literals))
    return ctx


def handler_config(kubeconfig: Path, **options: Any) -> dict[str, Any]:
    """A Pod handler section pointing at the test server, rechecking rarely (wake-ups come from watches)."""
    return {"clusters": {"default": {"kubeconfig": str(kubeconfig)}}, "recheck_interval": 600, **options}


class Driver:
    """Calls ``handle`` round by round as the engine would, keeping the plugin state between rounds."""

    def __init__(self, handler: TaskHandler, ctx: TaskContext) -> None:
        self.handler = handler
        self.woken = threading.Event()
        self.ctx = dataclasses.replace(ctx, notify=self.woken.set)
        self.transitions: list[Transition] = []

    def round(self) -> Transition:
        """One call of ``handle``."""
        transition = self.handler.handle(self.ctx)
        if transition.state is not None:
            self.ctx = dataclasses.replace(self.ctx, state=dict(transition.state))
        self.transitions.append(transition)
        return transition

    def until(self, done: Callable[[Transition], bool], what: str) -> Transition:
        """Rounds until ``done`` holds for a transition, each after the handler's wake-up."""
        while True:
            self.woken.clear()
            transition = self.round()
            if done(transition) or transition.phase.is_terminal:
                return transition
            if not self.woken.wait(WAIT_SECONDS):
                pytest.fail(
                    f"no wake-up within {WAIT_SECONDS} s while waiting for {what}; last: {transition}"
                )

    def until_done(self) -> Transition:
        """Rounds until a terminal phase."""
        return self.until(lambda t: t.phase.is_terminal, "a terminal phase")

    def abort(self) -> None:
        """Abort, then finalize, as the engine does."""
        self.handler.abort(self.ctx)
        self.handler.finalize(self.ctx)


def wait_until(condition: Callable[[], Any], what: str) -> Any:
    """Poll ``condition`` until it is truthy; fail the test after WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)
