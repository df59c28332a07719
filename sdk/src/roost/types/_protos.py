"""Small builders and readers of flyteidl messages shared by the built-in transformers."""

from __future__ import annotations

from typing import Any

import msgpack
from flyteidl.core import literals_pb2, types_pb2
from google.protobuf import json_format, struct_pb2

from roost.types.errors import InvalidLiteralError, short_repr, type_name

MSGPACK = "msgpack"
"""The ``Binary.tag`` of msgpack-encoded values (dataclasses, pydantic models, untyped dicts)."""

SIMPLE = types_pb2.SimpleType
SINGLE = types_pb2.BlobType.BlobDimensionality.SINGLE
MULTIPART = types_pb2.BlobType.BlobDimensionality.MULTIPART


def simple_type(simple: int) -> types_pb2.LiteralType:
    """``LiteralType(simple=...)``."""
    return types_pb2.LiteralType(simple=simple)


def msgpack_annotation() -> types_pb2.TypeAnnotation:
    """The annotation flytekit puts on msgpack-encoded STRUCT types, which cache keys depend on."""
    return types_pb2.TypeAnnotation(
        annotations=to_struct({"cache-key-metadata": {"serialization-format": MSGPACK}})
    )


def to_struct(data: dict[str, Any]) -> struct_pb2.Struct:
    """A protobuf ``Struct`` holding JSON-like ``data``."""
    struct = struct_pb2.Struct()
    json_format.ParseDict(data, struct)
    return struct


def from_struct(struct: struct_pb2.Struct) -> Any:
    """The JSON-like data of a ``Struct`` (numbers come back as floats)."""
    return json_format.MessageToDict(struct)


def with_tag(literal_type: types_pb2.LiteralType, tag: str) -> types_pb2.LiteralType:
    """A copy of ``literal_type`` whose ``structure`` is only the union tag ``tag``, as flytekit does."""
    tagged = types_pb2.LiteralType()
    tagged.CopyFrom(literal_type)
    tagged.structure.Clear()
    tagged.structure.tag = tag
    return tagged


def scalar_literal(**scalar: Any) -> literals_pb2.Literal:
    """``Literal(scalar=Scalar(**scalar))``."""
    # A mapping for the nested message is built in place, where a Scalar would be built and then copied.
    return literals_pb2.Literal(scalar=scalar)


def primitive_literal(**primitive: Any) -> literals_pb2.Literal:
    """``Literal(scalar=Scalar(primitive=Primitive(**primitive)))``."""
    return literals_pb2.Literal(scalar={"primitive": primitive})


def msgpack_literal(data: Any) -> literals_pb2.Literal:
    """A msgpack ``Binary`` literal of plain data."""
    return scalar_literal(binary=literals_pb2.Binary(value=msgpack.packb(data), tag=MSGPACK))


def blob_literal(uri: str, blob_format: str, dimensionality: int) -> literals_pb2.Literal:
    """A blob literal: a single file or a multipart folder at ``uri``."""
    blob_type = types_pb2.BlobType(format=blob_format, dimensionality=dimensionality)
    return scalar_literal(blob=literals_pb2.Blob(uri=uri, metadata=literals_pb2.BlobMetadata(type=blob_type)))


def scalar_kind(literal: literals_pb2.Literal) -> str | None:
    """Which ``Scalar`` field a literal holds (``primitive``, ``blob``, ...), or ``None`` if not a scalar."""
    if literal.WhichOneof("value") != "scalar":
        return None
    kind: str | None = literal.scalar.WhichOneof("value")
    return kind


def describe_literal(literal: literals_pb2.Literal) -> str:
    """A short description of a literal for messages: ``a string literal ('7')``, ``a collection of 3``."""
    kind = literal.WhichOneof("value")
    if kind == "collection":
        return f"a collection literal of {len(literal.collection.literals)} item(s)"
    if kind == "map":
        return f"a map literal of {len(literal.map.literals)} item(s)"
    if kind == "offloaded_metadata":
        return f"an offloaded literal ({literal.offloaded_metadata.uri})"
    if kind != "scalar":
        return "an empty literal"
    scalar = literal.scalar
    scalar_field = scalar.WhichOneof("value")
    if scalar_field == "primitive":
        primitive = scalar.primitive
        which = primitive.WhichOneof("value")
        names = {"integer": "an integer", "float_value": "a float", "string_value": "a string"}
        name = names.get(str(which), f"a {which}")
        if which == "datetime":
            value: Any = primitive.datetime.ToJsonString()
        elif which == "duration":
            value = primitive.duration.ToJsonString()
        else:
            value = getattr(primitive, str(which)) if which else None
        return f"{name} literal ({short_repr(value)})"
    if scalar_field == "blob":
        multipart = scalar.blob.metadata.type.dimensionality == MULTIPART
        return f"a {'multipart ' if multipart else ''}blob literal ({scalar.blob.uri})"
    if scalar_field == "structured_dataset":
        return f"a structured dataset literal ({scalar.structured_dataset.uri})"
    if scalar_field == "binary":
        return f"a binary literal (tag {scalar.binary.tag!r})"
    if scalar_field == "none_type":
        return "a none literal"
    if scalar_field == "union":
        return f"a union literal (variant {scalar.union.type.structure.tag!r})"
    if scalar_field == "generic":
        return "a struct literal"
    article = "an" if str(scalar_field)[:1] in "aeiou" else "a"
    return f"{article} {scalar_field} literal"


def literal_mismatch(
    python_type: Any, literal: literals_pb2.Literal, detail: str = ""
) -> InvalidLiteralError:
    """``expected <type> but got <literal description>``, plus an optional detail."""
    reason = f"expected {type_name(python_type)} but got {describe_literal(literal)}"
    return InvalidLiteralError(
        f"{reason}: {detail}" if detail else reason, python_type=python_type, value=literal
    )


def data_mismatch(python_type: Any, data: Any, detail: str = "") -> InvalidLiteralError:
    """Struct data (from msgpack or a ``Struct``) that does not fit ``python_type``."""
    got = "None" if data is None else f"{type(data).__qualname__} ({short_repr(data)})"
    reason = f"expected {type_name(python_type)} but got {got} in struct data"
    return InvalidLiteralError(
        f"{reason}: {detail}" if detail else reason, python_type=python_type, value=data
    )
