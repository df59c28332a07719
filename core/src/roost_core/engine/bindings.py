"""Turning a node's input bindings into literals: scalars, collections, maps, unions and promises.

A promise names an upstream node's output, optionally with an attribute path into it (``o0.field[2]``)
as flytekit writes for dataclass and list outputs. What a path reaches inside a dataclass or pydantic value
(msgpack or a struct) is a plain value; where the input it binds to is a StructuredDataset, file or folder,
the value (``{"uri": ..., "file_format": ...}`` or ``{"path": ...}``, flytekit's encodings) becomes that
literal. Failures raise :class:`BindingError` naming the input.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import msgpack
from flyteidl.core import interface_pb2, literals_pb2, types_pb2
from google.protobuf import json_format, struct_pb2

from roost_core.errors import RoostError

START_NODE = "start-node"
MSGPACK_TAG = "msgpack"

OutputLookup = Callable[[str, str], literals_pb2.Literal]
"""(node id, output name) → the literal; raises BindingError when it is not there."""


class BindingError(RoostError):
    """An input could not be resolved; the message names the input and the reference at fault."""


def resolve_bindings(
    bindings: Iterable[literals_pb2.Binding],
    lookup: OutputLookup,
    variables: Mapping[str, interface_pb2.Variable] | None = None,
) -> literals_pb2.LiteralMap:
    """Resolve every binding into a LiteralMap keyed by input name; ``variables`` (the interface the
    bindings feed, when known) gives attribute-path values their literal kind."""
    result = literals_pb2.LiteralMap()
    for binding in bindings:
        variable = variables.get(binding.var) if variables is not None else None
        expected = variable.type if variable is not None else None
        try:
            result.literals[binding.var].CopyFrom(resolve(binding.binding, lookup, expected))
        except BindingError as exc:
            raise BindingError(f"input {binding.var!r}: {exc}") from None
    return result


def resolve(
    data: literals_pb2.BindingData, lookup: OutputLookup, expected: types_pb2.LiteralType | None = None
) -> literals_pb2.Literal:
    """Resolve one binding into a literal (of type ``expected``, for values reached by attribute paths)."""
    kind = data.WhichOneof("value")
    if data.HasField("union"):
        expected = data.union.targetType
    if kind == "scalar":
        literal = literals_pb2.Literal(scalar=data.scalar)
    elif kind == "promise":
        ref = data.promise
        literal = lookup(ref.node_id or START_NODE, ref.var)
        if ref.attr_path:
            text = f"{ref.node_id or START_NODE}.{ref.var}"
            literal = _follow_path(literal, list(ref.attr_path), text)
            if expected is not None:
                literal = _fit(literal, expected, text + "".join(map(_attr_suffix, ref.attr_path)))
    elif kind == "collection":
        element = (
            expected.collection_type
            if expected is not None and _kind(expected) == "collection_type"
            else None
        )
        items = [resolve(item, lookup, element) for item in data.collection.bindings]
        literal = literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=items))
    elif kind == "map":
        value = (
            expected.map_value_type if expected is not None and _kind(expected) == "map_value_type" else None
        )
        entries = {key: resolve(item, lookup, value) for key, item in data.map.bindings.items()}
        literal = literals_pb2.Literal(map=literals_pb2.LiteralMap(literals=entries))
    elif kind == "offloaded_metadata":
        literal = literals_pb2.Literal(offloaded_metadata=data.offloaded_metadata)
    else:
        raise BindingError("the binding is empty (no scalar, promise, collection or map)")
    if data.HasField("union"):
        return literals_pb2.Literal(
            scalar=literals_pb2.Scalar(union=literals_pb2.Union(value=literal, type=data.union.targetType))
        )
    return literal


def _kind(literal_type: types_pb2.LiteralType) -> str | None:
    kind: str | None = literal_type.WhichOneof("type")
    return kind


_DATA_KINDS = ("blob", "structured_dataset_type")


def _fit(literal: literals_pb2.Literal, expected: types_pb2.LiteralType, ref: str) -> literals_pb2.Literal:
    """A value reached by an attribute path, as the literal ``expected`` calls for: a StructuredDataset, file
    or folder from its dict (in lists, maps and the one matching union variant too); others unchanged."""
    kind = _kind(expected)
    if kind == "union_type":
        targets = [v for v in expected.union_type.variants if _kind(v) in _DATA_KINDS]
        return _fit(literal, targets[0], ref) if len(targets) == 1 else literal
    if kind == "collection_type" and literal.WhichOneof("value") == "collection":
        items = [_fit(item, expected.collection_type, ref) for item in literal.collection.literals]
        return literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=items))
    if kind == "map_value_type" and literal.WhichOneof("value") == "map":
        entries = {k: _fit(v, expected.map_value_type, ref) for k, v in literal.map.literals.items()}
        return literals_pb2.Literal(map=literals_pb2.LiteralMap(literals=entries))
    if kind not in _DATA_KINDS:
        return literal
    value = _plain_value(literal)
    if not isinstance(value, dict):
        return literal
    if kind == "blob":
        return _blob_literal(value, expected.blob, ref)
    return _dataset_literal(value, expected.structured_dataset_type, ref)


def _plain_value(literal: literals_pb2.Literal) -> Any:
    """The Python value of a msgpack or struct scalar; None for any other literal."""
    scalar = literal.scalar
    kind = scalar.WhichOneof("value") if literal.WhichOneof("value") == "scalar" else None
    if kind == "binary" and scalar.binary.tag == MSGPACK_TAG:
        return msgpack.unpackb(scalar.binary.value, raw=False, strict_map_key=False)
    if kind == "generic":
        return _struct_value(scalar.generic)
    return None


def _blob_literal(value: dict[Any, Any], blob_type: types_pb2.BlobType, ref: str) -> literals_pb2.Literal:
    noun = "folder" if blob_type.dimensionality == types_pb2.BlobType.MULTIPART else "file"
    path = value.get("path")
    if not isinstance(path, str) or not path:
        raise BindingError(f"{ref} is not a {noun}: it has no 'path' (keys: {_keys(value)})")
    literal = literals_pb2.Literal(
        scalar=literals_pb2.Scalar(
            blob=literals_pb2.Blob(uri=path, metadata=literals_pb2.BlobMetadata(type=blob_type))
        )
    )
    metadata = value.get("metadata")
    if isinstance(metadata, dict):
        literal.metadata.update({str(k): str(v) for k, v in metadata.items()})
    return literal


def _dataset_literal(
    value: dict[Any, Any], dataset_type: types_pb2.StructuredDatasetType, ref: str
) -> literals_pb2.Literal:
    uri = value.get("uri")
    if not isinstance(uri, str) or not uri:
        raise BindingError(f"{ref} is not a structured dataset: it has no 'uri' (keys: {_keys(value)})")
    stored_type = types_pb2.StructuredDatasetType()
    stored_type.CopyFrom(dataset_type)
    file_format = value.get("file_format")
    if isinstance(file_format, str) and file_format:
        stored_type.format = file_format
    return literals_pb2.Literal(
        scalar=literals_pb2.Scalar(
            structured_dataset=literals_pb2.StructuredDataset(
                uri=uri,
                metadata=literals_pb2.StructuredDatasetMetadata(structured_dataset_type=stored_type),
            )
        )
    )


def _keys(value: dict[Any, Any]) -> str:
    return ", ".join(sorted(map(str, value))) or "none"


def _follow_path(
    literal: literals_pb2.Literal, path: list[types_pb2.PromiseAttribute], ref: str
) -> literals_pb2.Literal:
    current = literal
    for position, attr in enumerate(path):
        kind = current.WhichOneof("value")
        if kind == "map":
            key = attr.string_value
            if key not in current.map.literals:
                raise BindingError(f"{ref}: key {key!r} is not in the map output")
            current = current.map.literals[key]
        elif kind == "collection":
            index = attr.int_value
            items = current.collection.literals
            if not 0 <= index < len(items):
                raise BindingError(f"{ref}: index {index} is out of range of a list of {len(items)}")
            current = items[index]
        elif kind == "scalar" and current.scalar.WhichOneof("value") == "generic":
            return _python_to_literal(
                _walk(_struct_value(current.scalar.generic), path[position:], ref), ref, binary=False
            )
        elif kind == "scalar" and current.scalar.WhichOneof("value") == "binary":
            return _follow_binary(current.scalar.binary, path[position:], ref)
        else:
            raise BindingError(f"{ref}: cannot take attribute {_attr_text(attr)} of a {kind} output")
    return current


def _attr_suffix(attr: types_pb2.PromiseAttribute) -> str:
    """``.name`` or ``[3]``: how an attribute reads after the value it is taken from."""
    if attr.WhichOneof("value") == "string_value":
        return f".{attr.string_value}"
    return f"[{attr.int_value}]"


def _attr_text(attr: types_pb2.PromiseAttribute) -> str:
    return repr(attr.string_value) if attr.WhichOneof("value") == "string_value" else str(attr.int_value)


def _struct_value(struct: struct_pb2.Struct) -> dict[str, Any]:
    value: dict[str, Any] = json_format.MessageToDict(struct)
    return value


def _walk(value: Any, path: list[types_pb2.PromiseAttribute], ref: str) -> Any:
    for attr in path:
        if isinstance(value, dict):
            key = attr.string_value
            if key not in value:
                raise BindingError(f"{ref}: key {key!r} does not exist")
            value = value[key]
        elif isinstance(value, list):
            index = attr.int_value
            if not 0 <= index < len(value):
                raise BindingError(f"{ref}: index {index} is out of range of a list of {len(value)}")
            value = value[index]
        else:
            raise BindingError(f"{ref}: cannot take attribute {_attr_text(attr)} of {type(value).__name__}")
    return value


def _follow_binary(
    binary: literals_pb2.Binary, path: list[types_pb2.PromiseAttribute], ref: str
) -> literals_pb2.Literal:
    if binary.tag != MSGPACK_TAG:
        raise BindingError(f"{ref}: cannot take attributes of a binary value in format {binary.tag!r}")
    value = _walk(msgpack.unpackb(binary.value, raw=False, strict_map_key=False), path, ref)
    return _python_to_literal(value, ref, binary=True)


def _python_to_literal(value: Any, ref: str, *, binary: bool) -> literals_pb2.Literal:
    """A value found inside a struct or msgpack blob, as the literal a task input expects."""
    primitive: literals_pb2.Primitive | None = None
    if isinstance(value, bool):
        primitive = literals_pb2.Primitive(boolean=value)
    elif isinstance(value, int):
        primitive = literals_pb2.Primitive(integer=value)
    elif isinstance(value, float):
        # JSON structs carry every number as a float; whole numbers were ints in the task's code.
        if not binary and value.is_integer():
            primitive = literals_pb2.Primitive(integer=int(value))
        else:
            primitive = literals_pb2.Primitive(float_value=value)
    elif isinstance(value, str):
        primitive = literals_pb2.Primitive(string_value=value)
    if primitive is not None:
        return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=primitive))
    if value is None:
        return literals_pb2.Literal(scalar=literals_pb2.Scalar(none_type=literals_pb2.Void()))
    if binary:
        if isinstance(value, list):
            items = [_python_to_literal(v, ref, binary=True) for v in value]
            return literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=items))
        packed = msgpack.packb(value, use_bin_type=True)
        return literals_pb2.Literal(
            scalar=literals_pb2.Scalar(binary=literals_pb2.Binary(value=packed, tag=MSGPACK_TAG))
        )
    if isinstance(value, dict):
        struct = struct_pb2.Struct()
        struct.update(value)
        return literals_pb2.Literal(scalar=literals_pb2.Scalar(generic=struct))
    if isinstance(value, list):
        items = [_python_to_literal(v, ref, binary=False) for v in value]
        return literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=items))
    raise BindingError(f"{ref}: cannot turn a {type(value).__name__} into a literal")
