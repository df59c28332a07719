"""Flyte's copilot data loading: a raw container's inputs as files, its outputs read back from files.

A task whose ``TaskTemplate.container`` (or ``k8s_pod``) carries an enabled ``DataLoadingConfig``
(``data_config``; flytekit's and Roost's ``ContainerTask`` make one) does not speak the container
contract itself. Something around it does, as Flyte's copilot does:

* before the command runs, :func:`download_inputs` writes every input into the input folder
  (``input_path``, default ``/var/flyte/inputs``): one file per input named after it, primitives as
  text (Go's formatting, as copilot writes them), files (blobs) copied, folders (multipart blobs) copied
  file by file, collections and maps as folders of such files; then ``inputs.pb`` (the LiteralMap with
  blob URIs replaced by the local paths) and, by the metadata ``format``, ``inputs.json`` or
  ``inputs.yaml`` (the values as JSON; JSON is valid YAML, so ``inputs.yaml`` holds the same text);
* after it exited, :func:`upload_outputs` reads the output folder (``output_path``, default
  ``/var/flyte/outputs``) by the task's output interface: a file per output, primitives parsed from
  text (at most 1 KiB), files and folders uploaded under the raw output prefix (and recorded, in the
  local ``file://`` store, by their plain paths, as task code records them:
  :func:`roost_core.container.local_data_path`); and writes ``outputs.pb``. A ``_ERROR`` file in the output folder is the task's own error message. What cannot
  be read is written as ``error.pb``, so the attempt fails saying why.

Only files and simple types can be outputs (what Flyte's copilot reads back); inputs may be of any
type. The download and upload modes of ``io_strategy`` are not used: inputs are fetched before the
command starts and outputs read after it exited, which are copilot's defaults.

The ``local-process`` handler runs these steps around the process, with the folders under the
attempt's folder: :func:`substitute_paths` replaces the two paths in the command line by the local
folders. The Pod handler runs them in an init container and a sidecar (``roost-copilot``).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import glob
import json
import math
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from flyteidl.core import errors_pb2, execution_pb2, interface_pb2, literals_pb2, tasks_pb2, types_pb2
from google.protobuf import json_format, struct_pb2

from roost_core.container import local_data_path
from roost_core.errors import ErrorKind, RoostError
from roost_core.storage import Storage, StorageError

__all__ = [
    "DEFAULT_INPUT_PATH",
    "DEFAULT_OUTPUT_PATH",
    "ERROR_FILE",
    "DataLoadingError",
    "data_loading_config",
    "data_paths",
    "decode_interface",
    "download_inputs",
    "encode_interface",
    "substitute_paths",
    "upload_outputs",
    "write_error_document",
]

DEFAULT_INPUT_PATH = "/var/flyte/inputs"
"""Where inputs go when the task names no ``input_path`` (Flyte's default)."""
DEFAULT_OUTPUT_PATH = "/var/flyte/outputs"
"""Where outputs are read from when the task names no ``output_path`` (Flyte's default)."""
ERROR_FILE = "_ERROR"
"""A file the task writes into its output folder to fail with its content as the message."""
MAX_PRIMITIVE_SIZE = 1024
"""Largest file a primitive output may be read from (bytes), as in Flyte."""
_MAX_ERROR_SIZE = 1024 * 1024
_MESSAGEPACK = "msgpack"
_FORMATS = tasks_pb2.DataLoadingConfig.LiteralMapFormat
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_NANOS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


class DataLoadingError(RoostError):
    """Inputs could not be written as files, or outputs not read back: ``code`` and ``kind`` say how it
    fails the attempt (``InputDownloadFailed`` / ``OutputUploadFailed``, as Flyte's copilot names them)."""

    def __init__(self, code: str, message: str, kind: ErrorKind) -> None:
        super().__init__(message)
        self.code = code
        self.kind = kind


def data_loading_config(task: tasks_pb2.TaskTemplate) -> tasks_pb2.DataLoadingConfig | None:
    """The task's enabled data loading config (from its container, else its k8s_pod), or None."""
    if task.HasField("container") and task.container.data_config.enabled:
        return task.container.data_config
    if task.HasField("k8s_pod") and task.k8s_pod.data_config.enabled:
        return task.k8s_pod.data_config
    return None


def data_paths(config: tasks_pb2.DataLoadingConfig) -> tuple[str, str]:
    """The input and output folders the container sees (Flyte's defaults where the config names none)."""
    return (
        _normal(config.input_path) if config.input_path else DEFAULT_INPUT_PATH,
        _normal(config.output_path) if config.output_path else DEFAULT_OUTPUT_PATH,
    )


def _normal(path: str) -> str:
    return path.rstrip("/") or "/"


def substitute_paths(args: Sequence[str], folders: Mapping[str, str]) -> list[str]:
    """Replace each container folder (a key of ``folders``) by its local folder wherever it appears in
    ``args`` as a whole path or a path prefix (``/var/inputs/x`` → ``<local>/x``, also inside shell text)."""
    paths = sorted((_normal(p) for p in folders if p), key=len, reverse=True)
    if not paths:
        return list(args)
    local = {_normal(k): v for k, v in folders.items() if k}
    pattern = re.compile(
        r"(?<![\w./-])(" + "|".join(re.escape(p) for p in paths) + r")(?![\w.-])", re.UNICODE
    )
    return [pattern.sub(lambda m: local[m.group(1)], arg) for arg in args]


def write_error_document(storage: Storage, output_prefix: str, error: DataLoadingError) -> str:
    """Write ``error`` as ``error.pb`` under ``output_prefix`` (recoverable, as copilot writes it); its URI."""
    uri = storage.join(output_prefix, "error.pb")
    origin = (
        execution_pb2.ExecutionError.USER
        if error.kind is ErrorKind.USER
        else execution_pb2.ExecutionError.SYSTEM
    )
    document = errors_pb2.ErrorDocument(
        error=errors_pb2.ContainerError(
            code=error.code,
            message=str(error),
            kind=errors_pb2.ContainerError.RECOVERABLE,
            origin=origin,
        )
    )
    storage.write_proto(uri, document)
    return uri


# inputs


def download_inputs(
    storage: Storage, inputs: literals_pb2.LiteralMap, folder: Path, *, format: int = _FORMATS.JSON
) -> None:
    """Write ``inputs`` into ``folder`` as files (see the module docstring); raises DataLoadingError."""
    folder.mkdir(parents=True, exist_ok=True)
    values: dict[str, Any] = {}
    local = literals_pb2.LiteralMap()
    for name in sorted(inputs.literals):
        literal = inputs.literals[name]
        if literal.HasField("offloaded_metadata"):
            literal = _read(storage, literal.offloaded_metadata.uri, f"input {name!r}")
        value, rewritten = _write_literal(storage, literal, folder / name, f"input {name!r}")
        values[name] = value
        local.literals[name].CopyFrom(rewritten)
    (folder / "inputs.pb").write_bytes(local.SerializeToString(deterministic=True))
    if format in (_FORMATS.JSON, _FORMATS.YAML):
        text = json.dumps(values, indent=2, sort_keys=True)
        (folder / ("inputs.json" if format == _FORMATS.JSON else "inputs.yaml")).write_text(text)


def _read(storage: Storage, uri: str, what: str) -> literals_pb2.Literal:
    try:
        return storage.read_proto(uri, literals_pb2.Literal)
    except StorageError as exc:
        raise DataLoadingError(
            "InputDownloadFailed", f"{what}: cannot read its offloaded literal: {exc}", ErrorKind.SYSTEM
        ) from None


def _write_literal(
    storage: Storage, literal: literals_pb2.Literal, path: Path, what: str
) -> tuple[Any, literals_pb2.Literal]:
    """Write one literal at ``path``; its JSON value and the literal with local paths for blobs."""
    kind = literal.WhichOneof("value")
    if kind == "collection":
        path.mkdir(parents=True, exist_ok=True)
        values = []
        items = literals_pb2.LiteralCollection()
        for index, item in enumerate(literal.collection.literals):
            value, rewritten = _write_literal(storage, item, path / str(index), f"{what}[{index}]")
            values.append(value)
            items.literals.append(rewritten)
        return values, literals_pb2.Literal(collection=items)
    if kind == "map":
        path.mkdir(parents=True, exist_ok=True)
        entries: dict[str, Any] = {}
        rewritten_map = literals_pb2.LiteralMap()
        for key in sorted(literal.map.literals):
            value, rewritten = _write_literal(
                storage, literal.map.literals[key], path / key, f"{what}[{key!r}]"
            )
            entries[key] = value
            rewritten_map.literals[key].CopyFrom(rewritten)
        return entries, literals_pb2.Literal(map=rewritten_map)
    if kind == "offloaded_metadata":
        return _write_literal(storage, _read(storage, literal.offloaded_metadata.uri, what), path, what)
    if kind != "scalar":
        raise DataLoadingError(
            "InputDownloadFailed",
            f"{what}: a {kind or 'empty'} literal cannot be written as a file",
            ErrorKind.USER,
        )
    value, scalar = _write_scalar(storage, literal.scalar, path, what)
    return value, literals_pb2.Literal(scalar=scalar)


def _write_scalar(
    storage: Storage, scalar: literals_pb2.Scalar, path: Path, what: str
) -> tuple[Any, literals_pb2.Scalar]:
    kind = scalar.WhichOneof("value")
    if kind == "primitive":
        value, text = _primitive(scalar.primitive)
        path.write_text(text)
        return value, scalar
    if kind == "blob":
        blob = scalar.blob
        multipart = blob.metadata.type.dimensionality == types_pb2.BlobType.MULTIPART
        _copy_blob(storage, blob.uri, path, multipart=multipart, what=what)
        local = literals_pb2.Blob(metadata=blob.metadata, uri=str(path))
        return str(path), literals_pb2.Scalar(blob=local)
    if kind == "schema":
        _copy_blob(storage, scalar.schema.uri, path, multipart=True, what=what)
        return str(path), literals_pb2.Scalar(
            schema=literals_pb2.Schema(uri=str(path), type=scalar.schema.type)
        )
    if kind == "structured_dataset":
        dataset = scalar.structured_dataset
        _copy_blob(storage, dataset.uri, path, multipart=True, what=what)
        local_dataset = literals_pb2.StructuredDataset(uri=str(path), metadata=dataset.metadata)
        return str(path), literals_pb2.Scalar(structured_dataset=local_dataset)
    if kind == "binary":
        path.write_bytes(scalar.binary.value)
        return base64.b64encode(scalar.binary.value).decode(), scalar
    if kind == "error":
        path.write_text(scalar.error.message)
        return scalar.error.message, scalar
    if kind == "generic":
        path.write_text(json_format.MessageToJson(scalar.generic))
        return json_format.MessageToDict(scalar.generic), scalar
    if kind == "none_type":
        path.write_text("null")
        return None, scalar
    if kind == "union":
        value, rewritten = _write_literal(storage, scalar.union.value, path, what)
        union = literals_pb2.Union(value=rewritten, type=scalar.union.type)
        return value, literals_pb2.Scalar(union=union)
    raise DataLoadingError(
        "InputDownloadFailed",
        f"{what}: a {kind or 'empty'} scalar cannot be written as a file",
        ErrorKind.USER,
    )


def _primitive(primitive: literals_pb2.Primitive) -> tuple[Any, str]:
    """The JSON value and the file text of a primitive, as copilot (Go) writes it."""
    kind = primitive.WhichOneof("value")
    if kind == "integer":
        return primitive.integer, str(primitive.integer)
    if kind == "float_value":
        value = primitive.float_value
        return (value if math.isfinite(value) else None), _go_float(value)
    if kind == "string_value":
        return primitive.string_value, primitive.string_value
    if kind == "boolean":
        return primitive.boolean, "true" if primitive.boolean else "false"
    if kind == "datetime":
        text = _go_timestamp(primitive.datetime.seconds, primitive.datetime.nanos)
        return text, text
    if kind == "duration":
        text = _go_duration(primitive.duration.seconds * 1_000_000_000 + primitive.duration.nanos)
        return text, text
    return None, "null"


def _go_float(value: float) -> str:
    """``strconv.FormatFloat(v, 'f', -1, 64)``: the shortest digits, never an exponent."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return format(Decimal(repr(value)).normalize(), "f")


def _go_timestamp(seconds: int, nanos: int) -> str:
    """RFC 3339 in UTC with the fraction's trailing zeros dropped (Go's RFC3339Nano)."""
    moment = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(seconds=seconds)
    fraction = f".{nanos:09d}".rstrip("0") if nanos else ""
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def _go_duration(nanos: int) -> str:
    """Go's ``time.Duration.String``: ``1h2m3.5s``, ``1.5ms``, ``0s``."""
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    nanos = abs(nanos)
    if nanos < 1_000_000_000:
        for unit, size in (("ns", 1), ("µs", 1_000), ("ms", 1_000_000)):
            if nanos < size * 1000:
                return sign + _decimal(nanos, size) + unit
    hours, rest = divmod(nanos, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    text = _decimal(rest, 1_000_000_000) + "s"
    if hours or minutes:
        text = f"{minutes}m" + text
    if hours:
        text = f"{hours}h" + text
    return sign + text


def _decimal(amount: int, unit: int) -> str:
    whole, fraction = divmod(amount, unit)
    if not fraction:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}.{fraction:0{digits}d}".rstrip("0")


def _copy_blob(storage: Storage, uri: str, path: Path, *, multipart: bool, what: str) -> None:
    source = uri if "://" in uri else Path(uri).absolute().as_uri()
    try:
        if not multipart:
            path.write_bytes(storage.read(source))
            return
        path.mkdir(parents=True, exist_ok=True)
        prefix = source.rstrip("/") + "/"
        for item in storage.list(prefix):
            target = path / item[len(prefix) :]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(storage.read(item))
    except (StorageError, OSError) as exc:
        raise DataLoadingError(
            "InputDownloadFailed", f"{what}: cannot copy {uri!r} to {str(path)!r}: {exc}", ErrorKind.SYSTEM
        ) from None


# outputs


def upload_outputs(
    storage: Storage,
    outputs: interface_pb2.VariableMap,
    folder: Path,
    *,
    output_prefix: str,
    raw_output_prefix: str,
) -> literals_pb2.LiteralMap:
    """Read the outputs declared by ``outputs`` from ``folder``, upload files and folders under
    ``raw_output_prefix``, and write ``outputs.pb`` under ``output_prefix``; returns the LiteralMap.

    Raises DataLoadingError (USER) for a ``_ERROR`` file, a missing or unreadable output, or an output type
    copilot cannot read; SYSTEM when the upload itself fails.
    """
    error_file = folder / ERROR_FILE
    if error_file.is_file():
        if error_file.stat().st_size > _MAX_ERROR_SIZE:
            raise DataLoadingError(
                "OutputUploadFailed",
                f"the error file {str(error_file)!r} is larger than 1 MiB",
                ErrorKind.USER,
            )
        message = error_file.read_text(errors="replace")
        raise DataLoadingError("OutputUploadFailed", f"User Error: {message}", ErrorKind.USER)
    literals = literals_pb2.LiteralMap()
    for name in sorted(outputs.variables):
        literal_type = outputs.variables[name].type
        path = folder / name
        what = f"output {name!r}"
        type_kind = literal_type.WhichOneof("type")
        if type_kind == "blob":
            target = storage.join(raw_output_prefix, f"_{name}" if name == "outputs.pb" else name)
            literal = _upload_blob(storage, path, target, literal_type.blob, what)
        elif type_kind == "simple":
            literal = _read_simple(literal_type.simple, path, what)
        else:
            raise DataLoadingError(
                "OutputUploadFailed",
                f"{what}: copilot reads only files, folders and simple types back, not a {type_kind or 'untyped'} "
                "value",
                ErrorKind.USER,
            )
        literals.literals[name].CopyFrom(literal)
    try:
        storage.write_proto(storage.join(output_prefix, "outputs.pb"), literals)
    except StorageError as exc:
        raise DataLoadingError(
            "OutputUploadFailed", f"cannot write outputs.pb: {exc}", ErrorKind.SYSTEM
        ) from None
    return literals


def _existing(path: Path, what: str) -> Path:
    """The output's file, or the single ``<name>.<ext>`` beside it (copilot accepts an extension)."""
    if path.exists():
        return path
    matches = sorted(path.parent.glob(glob.escape(path.name) + ".*"))
    if len(matches) == 1:
        return matches[0]
    raise DataLoadingError(
        "OutputUploadFailed",
        f"{what}: the task wrote no file {str(path)!r} in its output folder",
        ErrorKind.USER,
    )


def _upload_blob(
    storage: Storage, path: Path, target: str, blob_type: types_pb2.BlobType, what: str
) -> literals_pb2.Literal:
    found = _existing(path, what)
    try:
        if found.is_dir():
            for file in sorted(p for p in found.rglob("*") if p.is_file()):
                storage.write(storage.join(target, file.relative_to(found).as_posix()), file.read_bytes())
            dimensionality = types_pb2.BlobType.MULTIPART
        else:
            storage.write(target, found.read_bytes())
            dimensionality = types_pb2.BlobType.SINGLE
    except (StorageError, OSError) as exc:
        raise DataLoadingError(
            "OutputUploadFailed",
            f"{what}: cannot upload {str(found)!r} to {target!r}: {exc}",
            ErrorKind.SYSTEM,
        ) from None
    metadata = literals_pb2.BlobMetadata(
        type=types_pb2.BlobType(format=blob_type.format, dimensionality=dimensionality)
    )
    # Recorded as task code records what it uploads: the local store's by its plain path.
    uri = local_data_path(target)
    return literals_pb2.Literal(
        scalar=literals_pb2.Scalar(blob=literals_pb2.Blob(uri=uri, metadata=metadata))
    )


def _read_simple(simple: int, path: Path, what: str) -> literals_pb2.Literal:
    found = _existing(path, what)
    if found.is_dir():
        raise DataLoadingError(
            "OutputUploadFailed",
            f"{what}: expected a file for a {types_pb2.SimpleType.Name(simple)} value, found the folder {str(found)!r}",
            ErrorKind.USER,
        )
    size = found.stat().st_size
    if size > MAX_PRIMITIVE_SIZE:
        raise DataLoadingError(
            "OutputUploadFailed",
            f"{what}: {str(found)!r} has {size} bytes; a {types_pb2.SimpleType.Name(simple)} value is read from "
            f"at most {MAX_PRIMITIVE_SIZE}",
            ErrorKind.USER,
        )
    raw = found.read_bytes()
    text = raw.decode(errors="replace").strip(" \n\t")
    try:
        scalar = _parse_simple(simple, text, raw)
    except ValueError as exc:
        raise DataLoadingError(
            "OutputUploadFailed", f"{what}: cannot read {text!r} from {str(found)!r}: {exc}", ErrorKind.USER
        ) from None
    return literals_pb2.Literal(scalar=scalar)


def _parse_simple(simple: int, text: str, raw: bytes) -> literals_pb2.Scalar:
    simple_type = types_pb2.SimpleType
    if simple == simple_type.STRUCT:
        generic = struct_pb2.Struct()
        try:
            json_format.Parse(text, generic, ignore_unknown_fields=True)
        except json_format.ParseError as exc:
            raise ValueError(f"not a JSON object ({exc})") from None
        return literals_pb2.Scalar(generic=generic)
    if simple == simple_type.BINARY:
        return literals_pb2.Scalar(binary=literals_pb2.Binary(value=raw.strip(b" \n\t"), tag=_MESSAGEPACK))
    if simple == simple_type.ERROR:
        return literals_pb2.Scalar(error=literals_pb2.Error(message=text))
    if simple == simple_type.NONE:
        return literals_pb2.Scalar(none_type=literals_pb2.Void())
    return literals_pb2.Scalar(primitive=_parse_primitive(simple, text))


def _parse_primitive(simple: int, text: str) -> literals_pb2.Primitive:
    simple_type = types_pb2.SimpleType
    if simple == simple_type.INTEGER:
        if not re.fullmatch(r"[+-]?\d+", text):
            raise ValueError("not an integer")
        value = int(text)
        if not -(2**63) <= value < 2**63:
            raise ValueError("out of the 64-bit integer range")
        return literals_pb2.Primitive(integer=value)
    if simple == simple_type.FLOAT:
        try:
            if "_" in text:  # Python's float() takes digit separators, Go's ParseFloat does not
                raise ValueError
            return literals_pb2.Primitive(float_value=float(text))
        except ValueError:
            raise ValueError("not a number") from None
    if simple == simple_type.BOOLEAN:
        if text in _TRUE or text in _FALSE:
            return literals_pb2.Primitive(boolean=text in _TRUE)
        raise ValueError("not a boolean (true, false, 1, 0, t, f)")
    if simple == simple_type.STRING:
        return literals_pb2.Primitive(string_value=text)
    if simple == simple_type.DURATION:
        primitive = literals_pb2.Primitive()
        nanos = _parse_go_duration(text)
        primitive.duration.seconds, primitive.duration.nanos = _split_nanos(nanos)
        return primitive
    if simple == simple_type.DATETIME:
        primitive = literals_pb2.Primitive()
        primitive.datetime.FromDatetime(_parse_rfc3339(text))
        return primitive
    raise ValueError(f"a {types_pb2.SimpleType.Name(simple)} value cannot be read from text")


def _split_nanos(nanos: int) -> tuple[int, int]:
    """Seconds and nanos of a protobuf Duration (both with the sign of the whole)."""
    seconds = abs(nanos) // 1_000_000_000
    rest = abs(nanos) % 1_000_000_000
    return (-seconds, -rest) if nanos < 0 else (seconds, rest)


def _parse_go_duration(text: str) -> int:
    """Go's ``time.ParseDuration`` in nanoseconds: ``300ms``, ``-1.5h``, ``2h45m``, ``0``."""
    sign = -1 if text.startswith("-") else 1
    body = text[1:] if text[:1] in "+-" else text
    if body == "0":
        return 0
    if not body or _DURATION_PART.sub("", body):
        raise ValueError("not a duration (such as 300ms, 1.5h, 2h45m)")
    total = Decimal(0)
    for number, unit in _DURATION_PART.findall(body):
        total += Decimal(number) * _NANOS[unit]
    return sign * int(total)


def _parse_rfc3339(text: str) -> datetime.datetime:
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("not an RFC 3339 date and time") from None
    if moment.tzinfo is None or "T" not in text.upper():
        raise ValueError("not an RFC 3339 date and time (it needs a time and a zone offset or Z)")
    return moment.astimezone(datetime.UTC).replace(tzinfo=None)


def decode_interface(text: str) -> interface_pb2.TypedInterface:
    """A base64 ``TypedInterface``, as the copilot command line carries it."""
    try:
        return interface_pb2.TypedInterface.FromString(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError) as exc:
        raise DataLoadingError(
            "BadTaskSpecification", f"the interface is not a base64 TypedInterface: {exc}", ErrorKind.SYSTEM
        ) from None


def encode_interface(interface: interface_pb2.TypedInterface) -> str:
    """``interface`` as base64, for the copilot command line."""
    return base64.b64encode(interface.SerializeToString(deterministic=True)).decode()
