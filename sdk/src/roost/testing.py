"""The SDK plugin test kit: what a plugin author needs to test a task class (the SDK's counterpart of
``roost_core.testing``). Not used at run time.

- :func:`check_task_template`: serialize a task; its ``TaskTemplate`` must pass the core compiler, survive the
  protobuf round trip, and carry ``custom()`` exactly (and, when asked, parse as the plugin's message, or read
  back into the task's config);
- :func:`run_locally`: run a task (or workflow) as ``roost run`` does, on the core engine in this process;
- :func:`run_in_container`: run a task as its container does on a cluster: inputs written to storage, the
  template's own command line (``roost-execute ...``) rendered with Flyte's container contract and run as a
  new process, its outputs or its error document read back.

::

    from roost.testing import check_task_template, run_in_container, run_locally

    def test_my_task_class():
        template = check_task_template(my_task, custom_message=SparkJob)
        assert template.type == "spark"
        assert run_locally(my_task, {"n": 3}) == 6
        assert run_in_container(my_task, {"n": 3}) == 6
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flyteidl.core import identifier_pb2, literals_pb2, tasks_pb2
from google.protobuf import json_format
from google.protobuf.message import Message

from roost_core.errors import RoostError

if TYPE_CHECKING:
    from roost.entity import Entity
    from roost.serialize import SerializationSettings
    from roost.tasks import Task

__all__ = [
    "ContainerTaskError",
    "TemplateCheckError",
    "check_task_template",
    "run_in_container",
    "run_locally",
]


class TemplateCheckError(AssertionError):
    """A task's TaskTemplate is not what the engine can run; the message names the task and the problem."""


class ContainerTaskError(RoostError):
    """The task's container failed: what its error document said (or how the process ended)."""

    def __init__(
        self, task: str, code: str, message: str, *, user_error: bool, retryable: bool, stderr: str
    ) -> None:
        kind = "USER" if user_error else "SYSTEM"
        super().__init__(f"task {task!r} failed in its container ({kind}, {code}): {message}")
        self.code = code
        self.message = message
        self.user_error = user_error
        self.retryable = retryable
        self.stderr = stderr


def check_task_template(
    task: Task,
    settings: SerializationSettings | None = None,
    *,
    custom_message: type[Message] | None = None,
    read_custom: Callable[[dict[str, Any]], Any] | None = None,
) -> tasks_pb2.TaskTemplate:
    """The task's TaskTemplate, after checking that the engine can take it.

    Checks that a one-node workflow running the task compiles with the core compiler, that the template
    survives serialization unchanged, and that ``TaskTemplate.custom`` holds ``task.custom(settings)``
    exactly (as JSON: a Struct keeps numbers as floats). With ``custom_message`` (the flyteidl plugin message
    the engine side reads, e.g. ``SparkJob``), ``custom`` must parse as it without unknown fields; with
    ``read_custom`` (how the engine side reads it back), that must give back ``task.task_config``.
    """
    from roost.errors import WorkflowDefinitionError
    from roost.local.runner import as_workflow
    from roost.serialize import SerializationSettings, Serializer

    settings = settings or SerializationSettings()
    serializer = Serializer(settings)
    try:
        template = serializer.task(task)
    except WorkflowDefinitionError as exc:
        raise TemplateCheckError(f"its TaskTemplate cannot be built: {exc}") from None
    try:
        serializer.closure(as_workflow(task))
    except WorkflowDefinitionError as exc:
        raise TemplateCheckError(f"{task.label}: its TaskTemplate does not compile: {exc}") from None
    parsed = tasks_pb2.TaskTemplate.FromString(template.SerializeToString())
    if parsed != template:
        raise TemplateCheckError(f"{task.label}: its TaskTemplate changes when serialized and parsed again")
    custom = task.custom(settings)
    try:
        stored: dict[str, Any] = json_format.MessageToDict(template.custom)
    except ValueError as exc:
        raise TemplateCheckError(
            f"{task.label}: TaskTemplate.custom cannot be read back as JSON: {exc}"
        ) from None
    if custom is None:
        if stored:
            raise TemplateCheckError(f"{task.label}: custom() is None but the template has custom {stored!r}")
        return template
    if not template.HasField("custom") or stored != _as_struct_json(custom):
        raise TemplateCheckError(
            f"{task.label}: TaskTemplate.custom holds {dict(sorted(stored.items()))!r}, not what custom() "
            f"returned ({custom!r})"
        )
    if custom_message is not None:
        try:
            json_format.ParseDict(stored, custom_message())
        except json_format.ParseError as exc:
            name = custom_message.DESCRIPTOR.full_name
            raise TemplateCheckError(
                f"{task.label}: TaskTemplate.custom is not a valid {name}: {exc}"
            ) from None
    if read_custom is not None:
        config = read_custom(stored)
        if config != task.task_config:
            raise TemplateCheckError(
                f"{task.label}: TaskTemplate.custom reads back as {config!r}, not the task's config "
                f"{task.task_config!r}"
            )
    return template


def _as_struct_json(value: dict[str, Any]) -> Any:
    """``value`` as a protobuf Struct gives it back: JSON, with every number a float."""
    return json.loads(json.dumps(value), parse_int=float)


def run_locally(entity: Entity, inputs: Mapping[str, Any] | None = None, *, processes: bool = False) -> Any:
    """Run a task or workflow as ``roost run`` does (the core engine in this process, tasks in threads, or in
    forked worker processes with ``processes=True``), without the local cache; returns its outputs."""
    from roost.local.runner import LocalOptions, run_local

    options = LocalOptions(processes=processes, cache=False, progress=False)
    return run_local(entity, dict(inputs or {}), options=options).outputs


def run_in_container(
    task: Task,
    inputs: Mapping[str, Any] | None = None,
    *,
    settings: SerializationSettings | None = None,
    prefix: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 300.0,
) -> Any:
    """Run ``task`` as its container does, and return its outputs (a dynamic task's ``DynamicJobSpec``).

    The inputs are written as ``inputs.pb`` under ``prefix`` (a temporary folder by default; any URI the
    installed blob stores serve), the template's command line is rendered as the engine renders it and run
    with this interpreter's scripts, Flyte's task environment, ``env``, and this process's ``sys.path`` (so the
    task's module imports). A failure raises :class:`ContainerTaskError` with the error document's code,
    message and kind, and the process's stderr.
    """
    from roost import _typing
    from roost.local.relocate import data_folder, relocate_literals
    from roost.plugins.storage import sdk_storage
    from roost.serialize import SerializationSettings, Serializer
    from roost.types import TypeContext
    from roost_core.container import ResultKind, read_task_result, render_args, task_environment
    from roost_core.storage import Storage

    settings = settings or SerializationSettings()
    template = Serializer(settings).task(task)
    storage = sdk_storage()
    with tempfile.TemporaryDirectory(prefix="roost-container-") as tmp:
        base = prefix.rstrip("/") if prefix else Path(tmp).as_uri()
        run_id = uuid.uuid4().hex[:12]
        root = Storage.join(base, run_id)
        raw = Storage.join(root, "raw")
        with TypeContext(storage, raw, work_dir=Path(tmp, "inputs")) as ctx:
            literals = _typing.literal_map(task, dict(inputs or {}), ctx)
        inputs_uri = Storage.join(root, "inputs.pb")
        storage.write_proto(inputs_uri, literals)
        output_prefix = Storage.join(root, "outputs")
        args = render_args(
            _command(template),
            inputs_uri=inputs_uri,
            input_prefix=root,
            output_prefix=output_prefix,
            raw_output_prefix=raw,
            checkpoint_prefix=Storage.join(root, "checkpoint"),
            prev_checkpoint_prefix="",
            inputs=literals,
            task_name=task.name,
        )
        attempt = identifier_pb2.TaskExecutionIdentifier(task_id=template.id)
        attempt.node_execution_id.node_id = "n0"
        attempt.node_execution_id.execution_id.project = settings.project
        attempt.node_execution_id.execution_id.domain = settings.domain
        attempt.node_execution_id.execution_id.name = f"container-{run_id}"
        environment = {
            **os.environ,
            **task_environment(attempt, container_env=_container_env(template)),
            "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
            **(env or {}),
        }
        work = Path(tmp, "work")
        work.mkdir()
        process = subprocess.run(
            [_executable(args[0]), *args[1:]],
            env=environment,
            cwd=work,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        result = read_task_result(storage, output_prefix)
        if result.kind is ResultKind.ERROR:
            assert result.error is not None
            raise ContainerTaskError(
                task.name,
                result.error.code,
                result.error.message,
                user_error=result.error.kind.name == "USER",
                retryable=result.retryable,
                stderr=process.stderr,
            )
        if process.returncode != 0 or (result.kind is ResultKind.NOTHING and task.interface.outputs):
            message = f"the process exited with {process.returncode} and left no outputs"
            raise ContainerTaskError(
                task.name, "ContainerFailed", message, user_error=False, retryable=True, stderr=process.stderr
            )
        if result.kind is ResultKind.FUTURES:
            from flyteidl.core import dynamic_job_pb2

            return storage.read_proto(result.uri, dynamic_job_pb2.DynamicJobSpec)
        outputs = (
            storage.read_proto(result.uri, literals_pb2.LiteralMap)
            if result.kind is ResultKind.OUTPUTS
            else literals_pb2.LiteralMap()
        )
        kept_folder = data_folder() / "outputs" / f"container-{run_id}"
        if prefix is None:  # the temporary folder goes: keep what the outputs point into
            outputs, _ = relocate_literals(outputs, raw, kept_folder, values_too=False)
        out_ctx = TypeContext(storage, kept_folder.as_uri(), work_dir=kept_folder)
        return task.interface.pack_outputs(_typing.python_values(task, outputs, out_ctx))


def _command(template: tasks_pb2.TaskTemplate) -> list[str]:
    """The command line of the task's container, or of its pod's primary container."""
    if template.HasField("container"):
        return [*template.container.command, *template.container.args]
    primary = template.config.get("primary_container_name", "")
    spec = json_format.MessageToDict(template.k8s_pod.pod_spec) if template.HasField("k8s_pod") else {}
    for container in spec.get("containers") or ():
        if container.get("name") == primary:
            return [*container.get("command", []), *container.get("args", [])]
    raise TemplateCheckError(
        f"task {template.id.name!r} has no container (nor a pod's primary container) to run"
    )


def _container_env(template: tasks_pb2.TaskTemplate) -> list[literals_pb2.KeyValuePair]:
    return list(template.container.env) if template.HasField("container") else []


def _executable(name: str) -> str:
    """A script of this interpreter's environment (``roost-execute``), else one on the PATH."""
    beside = Path(sys.executable).with_name(name)
    if beside.exists():
        return str(beside)
    import shutil

    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name!r} is neither beside {sys.executable} nor on the PATH")
    return found
