"""Task templates and TaskContexts for handler tests: what the engine hands a handler, without an engine.

A context from :func:`task_context` is a first-round context of one attempt, laid out as the engine lays
it out (``<data>/<execution>/<node>/inputs.pb``, the attempt's output prefix ``.../<attempt>``, its
checkpoints under the output prefix), with the inputs already written to storage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from flyteidl.core import identifier_pb2, interface_pb2, literals_pb2, tasks_pb2, types_pb2
from google.protobuf import struct_pb2

from roost_core.handler import TaskContext
from roost_core.storage import Storage
from roost_core.storage.file import FileStore
from roost_core.storage.memory import MemoryStore

__all__ = [
    "INTEGER",
    "container_task",
    "file_storage",
    "integer",
    "interface",
    "task_context",
    "task_execution_id",
    "task_template",
    "text",
]

INTEGER = types_pb2.LiteralType(simple=types_pb2.SimpleType.INTEGER)
TASK_NAME = "tests.my_task"


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

    def variables(names: Sequence[str]) -> interface_pb2.VariableMap:
        return interface_pb2.VariableMap(variables={n: interface_pb2.Variable(type=INTEGER) for n in names})

    return interface_pb2.TypedInterface(inputs=variables(inputs), outputs=variables(outputs))


def task_template(
    task_type: str,
    *,
    name: str = TASK_NAME,
    typed_interface: interface_pb2.TypedInterface | None = None,
    custom: Mapping[str, Any] | None = None,
    container: tasks_pb2.Container | None = None,
) -> tasks_pb2.TaskTemplate:
    """A TaskTemplate of ``task_type`` with a task id in project ``proj``, domain ``dev``."""
    template = tasks_pb2.TaskTemplate(
        id=identifier_pb2.Identifier(
            resource_type=identifier_pb2.TASK, project="proj", domain="dev", name=name, version="v7"
        ),
        type=task_type,
        interface=typed_interface or interface(),
    )
    if custom is not None:
        struct = struct_pb2.Struct()
        struct.update(dict(custom))
        template.custom.CopyFrom(struct)
    if container is not None:
        template.container.CopyFrom(container)
    return template


def container_task(
    command: Sequence[str],
    args: Sequence[str] = (),
    *,
    task_type: str = "python-task",
    inputs: Sequence[str] = (),
    outputs: Sequence[str] = (),
    image: str = "tests/image:1",
    env: Mapping[str, str] | None = None,
    resources: tasks_pb2.Resources | None = None,
) -> tasks_pb2.TaskTemplate:
    """A task whose container runs ``command`` with ``args`` (template variables such as ``{{.input}}``
    are the handler's to render); its inputs and outputs are integers."""
    container = tasks_pb2.Container(
        image=image,
        command=list(command),
        args=list(args),
        resources=resources,
        env=[literals_pb2.KeyValuePair(key=k, value=v) for k, v in (env or {}).items()],
    )
    return task_template(task_type, typed_interface=interface(inputs, outputs), container=container)


def task_execution_id(
    *, execution: str = "exec1", node: str = "n0", attempt: int = 0, task_name: str = TASK_NAME
) -> identifier_pb2.TaskExecutionIdentifier:
    """The identity of one attempt of a task in project ``proj``, domain ``dev``."""
    return identifier_pb2.TaskExecutionIdentifier(
        task_id=identifier_pb2.Identifier(
            resource_type=identifier_pb2.TASK, project="proj", domain="dev", name=task_name, version="v7"
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
    """``file://`` storage confined to ``root``, and ``mem://`` (for handlers that must refuse it)."""
    return Storage({"file": FileStore(root=str(root)), "mem": MemoryStore()})


def task_context(
    root: Path,
    task: tasks_pb2.TaskTemplate,
    *,
    inputs: literals_pb2.LiteralMap | Mapping[str, int] | None = None,
    environment: Mapping[str, str] | None = None,
    execution: str = "exec1",
    node: str = "n0",
    attempt: int = 0,
    scheme: str = "file",
    storage: Storage | None = None,
    **fields: Any,
) -> TaskContext:
    """A first-round context for one attempt of ``task``, its inputs written to storage.

    Data lives under ``root`` (``scheme="file"``) or in memory (``scheme="mem"``); ``inputs`` is a
    LiteralMap or a mapping of names to integers; any other :class:`TaskContext` field (``labels``,
    ``interruptible``, ``overrides``, ``notify``...) may be given.
    """
    storage = storage or file_storage(root)
    base = f"file://{root}/data" if scheme == "file" else "mem://tests/data"
    node_dir = f"{base}/{execution}/{node}"
    output_prefix = f"{node_dir}/{attempt}"
    ctx = TaskContext(
        task=task,
        task_execution_id=task_execution_id(
            execution=execution, node=node, attempt=attempt, task_name=task.id.name or TASK_NAME
        ),
        node_id=node,
        storage=storage,
        inputs_uri=f"{node_dir}/inputs.pb",
        output_prefix=output_prefix,
        raw_output_prefix=f"{base}/raw/{execution}-{node}-{attempt}",
        checkpoint_prefix=f"{output_prefix}/_checkpoints",
        prev_checkpoint_prefix=f"{node_dir}/{attempt - 1}/_checkpoints" if attempt else "",
        environment=dict(environment or {}),
        **fields,
    )
    if isinstance(inputs, literals_pb2.LiteralMap):
        literal_map = inputs
    else:
        literal_map = literals_pb2.LiteralMap(
            literals={name: integer(value) for name, value in (inputs or {}).items()}
        )
    storage.write_proto(ctx.inputs_uri, literal_map)
    return ctx
