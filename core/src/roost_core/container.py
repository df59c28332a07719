"""Flyte's container contract, as functions the process and Kubernetes handlers share.

A container task is a command line plus an environment. Before it runs, its arguments are rendered
(:func:`render_args`): ``{{.input}}`` becomes the URI of ``inputs.pb``, ``{{.outputPrefix}}`` the
prefix that receives ``outputs.pb``, ``futures.pb`` or ``error.pb``, and so on. Its environment
carries the execution's identity (:func:`task_environment`). After it ended,
:func:`read_task_result` tells what it left under the output prefix, and
:func:`completion_transition` turns that into the attempt's outcome.

Rendering follows Flyte's propeller: variable names are case-insensitive, may start with ``.`` or
``$`` and may have spaces inside the braces (``{{ .OutputPrefix }}``). A variable Flyte does not
know (``{{ .wrongName }}``) is left as it is, as Flyte does; an ``{{.Inputs.<name>}}`` naming an
input the task does not have, or one whose value cannot be written as text, is a
:class:`TemplateError`.
"""

from __future__ import annotations

import base64
import enum
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from flyteidl.core import (
    errors_pb2,
    execution_pb2,
    identifier_pb2,
    literals_pb2,
    tasks_pb2,
)

from roost_core.errors import ErrorKind, ExecutionError, RoostError
from roost_core.handler import TaskContext, TaskLog, Transition
from roost_core.storage import Storage, StorageError

__all__ = [
    "GENERATED_NAME_MAX_LENGTH",
    "ResultKind",
    "TaskResult",
    "TemplateError",
    "completion_transition",
    "generated_name",
    "local_data_path",
    "read_task_result",
    "render_args",
    "render_task_args",
    "task_environment",
]

GENERATED_NAME_MAX_LENGTH = 50
"""Flyte's default length limit for the per-attempt name (pod names, ``{{.perRetryUniqueKey}}``)."""


class TemplateError(RoostError):
    """A container argument refers to an input that does not exist or cannot be rendered as text."""


def _variable(name: str) -> re.Pattern[str]:
    return re.compile(r"\{\{\s*[.$]" + name + r"\s*\}\}", re.IGNORECASE)


_INPUT = _variable("Input")
_INPUT_PREFIX = _variable("InputPrefix")
_OUTPUT_PREFIX = _variable("OutputPrefix")
_RAW_OUTPUT_PREFIX = _variable("RawOutputDataPrefix")
_PREV_CHECKPOINT = _variable("PrevCheckpointPrefix")
_CHECKPOINT = _variable("CheckpointOutputPrefix")
_PER_RETRY_KEY = _variable("PerRetryUniqueKey")
_TASK_TEMPLATE_PATH = _variable("TaskTemplatePath")
_NAMESPACE = _variable("Namespace")
_INPUT_VALUE = re.compile(r"\{\{\s*[.$]Inputs\.(?P<name>[^}\s]+)\s*\}\}", re.IGNORECASE)

_NOT_ALNUM = re.compile(r"[^a-zA-Z0-9_]+")
_LEADING_NON_ALPHA = re.compile(r"^[^a-zA-Z_]+")


def render_args(
    args: Sequence[str],
    *,
    inputs_uri: str,
    input_prefix: str,
    output_prefix: str,
    raw_output_prefix: str,
    checkpoint_prefix: str,
    prev_checkpoint_prefix: str,
    inputs: literals_pb2.LiteralMap | None = None,
    per_retry_unique_key: str = "",
    task_template_path: Callable[[], str] | None = None,
    namespace: str | None = None,
    task_name: str = "",
) -> list[str]:
    """Render Flyte's template variables in a container's command or arguments.

    ``inputs`` supplies ``{{.Inputs.<name>}}`` values (``None`` means the task has no inputs).
    ``task_template_path`` is called only if ``{{.taskTemplatePath}}`` occurs (writing the template
    is the caller's business); ``namespace`` is only rendered when given. An empty
    previous-checkpoint prefix renders as ``""``, as in Flyte. ``task_name`` is used in error
    messages.
    """
    key = _LEADING_NON_ALPHA.sub("a", per_retry_unique_key)
    key = _NOT_ALNUM.sub("_", key)
    # Flyte replaces one variable after the other, so a value holding a variable ({{.Namespace}}
    # inside the raw output prefix) is rendered by a later step; the order below is Flyte's.
    plain = (
        (_INPUT, inputs_uri),
        (_OUTPUT_PREFIX, output_prefix),
        (_INPUT_PREFIX, input_prefix),
        (_RAW_OUTPUT_PREFIX, raw_output_prefix),
        (_PREV_CHECKPOINT, prev_checkpoint_prefix or '""'),
        (_CHECKPOINT, checkpoint_prefix),
        (_PER_RETRY_KEY, key),
    )
    rendered: list[str] = []
    for arg in args:
        if "{{" not in arg:
            rendered.append(arg)
            continue
        value = arg
        for pattern, replacement in plain:
            value = _substitute(pattern, replacement, value)
        if _TASK_TEMPLATE_PATH.search(value):
            if task_template_path is None:
                raise TemplateError(
                    f"task {task_name!r}: argument {arg!r} uses {{{{.taskTemplatePath}}}}, "
                    "which this handler cannot provide"
                )
            value = _substitute(_TASK_TEMPLATE_PATH, task_template_path(), value)
        if namespace is not None:
            value = _substitute(_NAMESPACE, namespace, value)
        rendered.append(_render_inputs(value, arg, inputs, task_name))
    return rendered


def _substitute(pattern: re.Pattern[str], replacement: str, text: str) -> str:
    # A function replacement, so backslashes in URIs are not read as group references.
    return pattern.sub(lambda _: replacement, text)


def render_task_args(
    ctx: TaskContext, args: Sequence[str], *, namespace: str | None = None, local_paths: bool = False
) -> list[str]:
    """:func:`render_args` with every value taken from a task attempt's context.

    Inputs are read only when an ``{{.Inputs.<name>}}`` variable occurs; ``{{.taskTemplatePath}}``
    writes the task template as ``task.pb`` next to ``inputs.pb`` (where Flyte puts it) the first
    time it is used. With ``local_paths`` (the task runs on this machine), a raw output prefix in the
    local ``file://`` store is given as its plain absolute path (:func:`local_data_path`).
    """
    input_prefix = ctx.inputs_uri.rsplit("/", 1)[0]
    inputs = ctx.read_inputs() if any(_INPUT_VALUE.search(a) for a in args) else None
    template_uri = ctx.storage.join(input_prefix, "task.pb")

    def write_template() -> str:
        ctx.storage.write_proto(template_uri, ctx.task)
        return template_uri

    execution = ctx.task_execution_id.node_execution_id.execution_id
    return render_args(
        args,
        inputs_uri=ctx.inputs_uri,
        input_prefix=input_prefix,
        output_prefix=ctx.output_prefix,
        raw_output_prefix=local_data_path(ctx.raw_output_prefix) if local_paths else ctx.raw_output_prefix,
        checkpoint_prefix=ctx.checkpoint_prefix,
        prev_checkpoint_prefix=ctx.prev_checkpoint_prefix,
        inputs=inputs,
        per_retry_unique_key=generated_name(execution.name, ctx.node_id, ctx.attempt),
        task_template_path=write_template,
        namespace=namespace,
        task_name=ctx.task.id.name,
    )


def local_data_path(uri: str) -> str:
    """How task code is told where to put data in the local store: an absolute ``file:///path`` as its plain
    path ``/path``; any other URI as it is.

    Task code records what it uploads under the raw output prefix in the literals it returns, and flytekit
    (1.16) takes a ``file://`` URI there for a path it cannot open: its FlyteFile and FlyteDirectory check
    ``os.path.isfile`` on the URI itself. Flytekit records local data as plain paths (as its local runs do),
    and so does Roost's SDK, so every SDK reads what the other wrote.
    """
    return uri[len(_FILE_SCHEME) :] if uri.startswith(_FILE_SCHEME + "/") else uri


_FILE_SCHEME = "file://"


def generated_name(
    execution_name: str, unique_node_id: str, attempt: int, max_length: int = GENERATED_NAME_MAX_LENGTH
) -> str:
    """The attempt's name as Flyte makes it: ``<execution>-<node>-<attempt>``, hashed when too long.

    A name longer than ``max_length`` becomes ``f`` plus the base32 of its 32-bit FNV-1a hash, like
    Flyte's pod names, so the same attempt always gets the same name.
    """
    joined = "-".join(part for part in (execution_name, unique_node_id, str(attempt)) if part)
    return _fixed_length_id(joined, max_length)


def _fixed_length_id(text: str, max_length: int) -> str:
    """``text`` if short enough, else Flyte's FixedLengthUniqueID of it (32-bit FNV-1a, base32)."""
    if len(text) <= max_length:
        return text
    digest = 0x811C9DC5
    for byte in text.encode():
        digest = ((digest ^ byte) * 0x01000193) & 0xFFFFFFFF
    encoded = base64.b32encode(digest.to_bytes(4, "big")).decode().rstrip("=")
    return "f" + encoded.translate(_FLYTE_BASE32)


_FLYTE_BASE32 = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "abcdefghijklmnopqrstuvwxyz123456")


def _render_inputs(value: str, arg: str, inputs: literals_pb2.LiteralMap | None, task_name: str) -> str:
    literals = inputs.literals if inputs is not None else {}

    def input_text(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in literals:
            known = ", ".join(sorted(literals)) or "none"
            raise TemplateError(
                f"task {task_name!r}: argument {arg!r} uses {match.group(0)}, but the task has no "
                f"input {name!r} (inputs: {known})"
            )
        try:
            return _literal_text(literals[name])
        except ValueError as exc:
            raise TemplateError(
                f"task {task_name!r}: cannot render input {name!r} for {match.group(0)} in {arg!r}: {exc}"
            ) from None

    return _INPUT_VALUE.sub(input_text, value)


def _literal_text(literal: literals_pb2.Literal) -> str:
    kind = literal.WhichOneof("value")
    if kind == "collection":
        return "[" + ",".join(_literal_text(item) for item in literal.collection.literals) + "]"
    if kind != "scalar":
        raise ValueError(f"a {kind or 'empty'} literal has no text form")
    scalar = literal.scalar
    scalar_kind = scalar.WhichOneof("value")
    if scalar_kind == "primitive":
        return _primitive_text(scalar.primitive)
    if scalar_kind == "blob":
        return str(scalar.blob.uri)
    if scalar_kind == "schema":
        return str(scalar.schema.uri)
    raise ValueError(f"a {scalar_kind or 'empty'} scalar has no text form")


def _primitive_text(primitive: literals_pb2.Primitive) -> str:
    kind = primitive.WhichOneof("value")
    if kind == "integer":
        return str(primitive.integer)
    if kind == "float_value":
        return _go_float(primitive.float_value)
    if kind == "string_value":
        return str(primitive.string_value)
    if kind == "boolean":
        return "true" if primitive.boolean else "false"
    if kind == "datetime":
        stamp = primitive.datetime
        moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=stamp.seconds)
        fraction = f".{stamp.nanos:09d}".rstrip("0") if stamp.nanos else ""
        return moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"
    if kind == "duration":
        return str(primitive.duration.ToJsonString())
    raise ValueError("an empty primitive has no text form")


def _go_float(value: float) -> str:
    """A float as Go's ``%v`` prints it (shortest digits; exponent form below 1e-4 and from 1e6)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    if value == 0:
        return sign + "0"
    _, digit_tuple, exponent = Decimal(repr(abs(value))).normalize().as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + exponent  # the decimal point sits after this many digits
    scientific = point - 1
    if scientific < -4 or scientific >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if scientific < 0 else '+'}{abs(scientific):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


def resource_environment(resources: tasks_pb2.Resources) -> dict[str, str]:
    """``ROOST_CPU_REQUEST``, ``ROOST_MEMORY_LIMIT``, ... for each request and limit ``resources`` sets."""
    env: dict[str, str] = {}
    for part, entries in (("REQUEST", resources.requests), ("LIMIT", resources.limits)):
        for entry in entries:
            if entry.name != tasks_pb2.Resources.UNKNOWN and entry.value:
                env[f"ROOST_{tasks_pb2.Resources.ResourceName.Name(entry.name)}_{part}"] = entry.value
    return env


def task_environment(
    task_execution_id: identifier_pb2.TaskExecutionIdentifier,
    *,
    workflow: str = "",
    launch_plan: str = "",
    container_env: Iterable[literals_pb2.KeyValuePair] = (),
    execution_env: Mapping[str, str] | None = None,
    console_url: str = "",
    unique_node_id: str = "",
    resources: tasks_pb2.Resources | None = None,
) -> dict[str, str]:
    """The environment of a task process: the container's variables, then the attempt's identity.

    Identity variables are set under Flyte's names (``FLYTE_INTERNAL_EXECUTION_ID``, ...) and under
    the short aliases flytekit also reads (``_F_NM``, ...); they win over a container variable of
    the same name, as in Flyte. ``execution_env`` (the execution's ``envs``) comes last and wins
    over both. ``console_url`` adds ``FLYTE_EXECUTION_URL`` pointing at the node's page. ``resources``
    (the container's requests and limits, after the admin's task resource defaults) are told as
    ``ROOST_<NAME>_REQUEST`` and ``ROOST_<NAME>_LIMIT`` (``ROOST_CPU_LIMIT=2``), so a process that no pod
    confines can still size itself.
    """
    env = {pair.key: pair.value for pair in container_env}
    execution = task_execution_id.node_execution_id.execution_id
    task = task_execution_id.task_id
    identity = {
        ("FLYTE_INTERNAL_EXECUTION_PROJECT", "_F_PRJ"): execution.project,
        ("FLYTE_INTERNAL_EXECUTION_DOMAIN", "_F_DM"): execution.domain,
        ("FLYTE_INTERNAL_EXECUTION_ID", "_F_NM"): execution.name,
        ("FLYTE_INTERNAL_EXECUTION_WORKFLOW", "_F_WF"): workflow,
        ("FLYTE_INTERNAL_EXECUTION_LAUNCHPLAN", "_F_LP"): launch_plan,
        ("FLYTE_INTERNAL_TASK_PROJECT", "_F_TK_PRJ"): task.project,
        ("FLYTE_INTERNAL_TASK_DOMAIN", "_F_TK_DM"): task.domain,
        ("FLYTE_INTERNAL_TASK_NAME", "_F_TK_NM"): task.name,
        ("FLYTE_INTERNAL_TASK_VERSION", "_F_TK_V"): task.version,
    }
    for names, value in identity.items():
        if value:
            for name in names:
                env[name] = value
    env["FLYTE_ATTEMPT_NUMBER"] = str(task_execution_id.retry_attempt)
    if resources is not None:
        env.update(resource_environment(resources))
    if console_url:
        node = unique_node_id or task_execution_id.node_execution_id.node_id
        env["FLYTE_EXECUTION_URL"] = (
            f"{console_url.rstrip('/')}/projects/{execution.project}/domains/{execution.domain}"
            f"/executions/{execution.name}/nodeId/{node}/nodes"
        )
    env.update(execution_env or {})
    return env


class ResultKind(enum.Enum):
    """What a finished task process left under its output prefix."""

    ERROR = "error"
    """``error.pb``: the task failed and said why. It wins over the rest, exit code included."""
    FUTURES = "futures"
    """``futures.pb``: a dynamic task's DynamicJobSpec."""
    OUTPUTS = "outputs"
    """``outputs.pb``: the task's outputs."""
    NOTHING = "nothing"
    """None of them: valid only for a task without outputs."""


@dataclass(frozen=True, slots=True)
class TaskResult:
    """The outcome a finished task process recorded, read by :func:`read_task_result`.

    ``uri`` is the blob found (empty for ``NOTHING``). For ``ERROR``, ``error`` says what failed and
    whose fault it was, and ``retryable`` whether another attempt may succeed.
    """

    kind: ResultKind
    uri: str = ""
    error: ExecutionError | None = None
    retryable: bool = False


_ERROR_KINDS = {
    execution_pb2.ExecutionError.SYSTEM: ErrorKind.SYSTEM,
    execution_pb2.ExecutionError.USER: ErrorKind.USER,
}


def read_task_result(storage: Storage, output_prefix: str) -> TaskResult:
    """Look under ``output_prefix`` for ``error.pb``, then ``futures.pb``, then ``outputs.pb``.

    An error document's origin gives the error kind (an unknown origin counts as USER: the task
    wrote it on purpose) and its ``ContainerError.kind`` whether it is retryable. An ``error.pb``
    that does not parse or holds no error is a retryable SYSTEM error naming the blob.
    """
    error_uri = storage.join(output_prefix, "error.pb")
    if storage.exists(error_uri):
        return _read_error(storage, error_uri)
    futures_uri = storage.join(output_prefix, "futures.pb")
    if storage.exists(futures_uri):
        return TaskResult(ResultKind.FUTURES, futures_uri)
    outputs_uri = storage.join(output_prefix, "outputs.pb")
    if storage.exists(outputs_uri):
        return TaskResult(ResultKind.OUTPUTS, outputs_uri)
    return TaskResult(ResultKind.NOTHING)


def _read_error(storage: Storage, error_uri: str) -> TaskResult:
    try:
        document = storage.read_proto(error_uri, errors_pb2.ErrorDocument)
    except StorageError as exc:
        error = ExecutionError("ErrorFileBadFormat", str(exc), ErrorKind.SYSTEM, error_uri)
        return TaskResult(ResultKind.ERROR, error_uri, error, retryable=True)
    if not document.HasField("error"):
        error = ExecutionError(
            "ErrorFileBadFormat",
            f"{error_uri!r} holds an ErrorDocument without an error",
            ErrorKind.SYSTEM,
            error_uri,
        )
        return TaskResult(ResultKind.ERROR, error_uri, error, retryable=True)
    container_error = document.error
    error = ExecutionError(
        container_error.code,
        container_error.message,
        _ERROR_KINDS.get(container_error.origin, ErrorKind.USER),
        error_uri,
    )
    retryable = container_error.kind == errors_pb2.ContainerError.RECOVERABLE
    return TaskResult(ResultKind.ERROR, error_uri, error, retryable=retryable)


def completion_transition(
    result: TaskResult,
    task: tasks_pb2.TaskTemplate,
    *,
    logs: tuple[TaskLog, ...] = (),
    state: Mapping[str, object] | None = None,
) -> Transition:
    """The outcome of a task whose process ended normally, given what it left behind.

    An error document is a failure as it says; futures or outputs are success; nothing at all is
    success only if the task's interface declares no outputs, and otherwise a retryable USER failure
    naming the missing outputs.
    """
    if result.kind is ResultKind.ERROR:
        assert result.error is not None
        return Transition.failure(
            result.error.code,
            result.error.message,
            kind=result.error.kind,
            retryable=result.retryable,
            logs=logs,
            state=state,
            error_uri=result.error.error_uri,
        )
    if result.kind is ResultKind.NOTHING and task.interface.outputs.variables:
        missing = ", ".join(sorted(task.interface.outputs.variables))
        return Transition.failure(
            "OutputsNotFound",
            f"task {task.id.name!r} finished without writing outputs.pb; its interface declares "
            f"the outputs {missing}",
            logs=logs,
            state=state,
        )
    return Transition.success(logs=logs, state=state)
