"""Terse builders of flyteidl literal types and literals, shared by the type and compiler tests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flyteidl.core import literals_pb2, types_pb2
from google.protobuf import struct_pb2

SIMPLE = types_pb2.SimpleType
INT = types_pb2.LiteralType(simple=SIMPLE.INTEGER)
FLOAT = types_pb2.LiteralType(simple=SIMPLE.FLOAT)
STR = types_pb2.LiteralType(simple=SIMPLE.STRING)
BOOL = types_pb2.LiteralType(simple=SIMPLE.BOOLEAN)
NONE = types_pb2.LiteralType(simple=SIMPLE.NONE)
STRUCT = types_pb2.LiteralType(simple=SIMPLE.STRUCT)
DATETIME = types_pb2.LiteralType(simple=SIMPLE.DATETIME)
DURATION = types_pb2.LiteralType(simple=SIMPLE.DURATION)


def list_of(element: types_pb2.LiteralType) -> types_pb2.LiteralType:
    return types_pb2.LiteralType(collection_type=element)


def dict_of(value: types_pb2.LiteralType) -> types_pb2.LiteralType:
    return types_pb2.LiteralType(map_value_type=value)


def union(*variants: types_pb2.LiteralType) -> types_pb2.LiteralType:
    return types_pb2.LiteralType(union_type=types_pb2.UnionType(variants=variants))


def tagged(literal_type: types_pb2.LiteralType, tag: str) -> types_pb2.LiteralType:
    result = types_pb2.LiteralType()
    result.CopyFrom(literal_type)
    result.structure.tag = tag
    return result


def optional(literal_type: types_pb2.LiteralType) -> types_pb2.LiteralType:
    """As flytekit writes ``Optional[T]``: a union of T and none, both tagged."""
    return union(tagged(literal_type, "T"), tagged(NONE, "none"))


def enum(*values: str) -> types_pb2.LiteralType:
    return types_pb2.LiteralType(enum_type=types_pb2.EnumType(values=values))


def blob(fmt: str = "", *, multipart: bool = False) -> types_pb2.LiteralType:
    dimensionality = types_pb2.BlobType.MULTIPART if multipart else types_pb2.BlobType.SINGLE
    return types_pb2.LiteralType(blob=types_pb2.BlobType(format=fmt, dimensionality=dimensionality))


def dataset(fmt: str = "", **columns: types_pb2.LiteralType) -> types_pb2.LiteralType:
    cols = [types_pb2.StructuredDatasetType.DatasetColumn(name=n, literal_type=t) for n, t in columns.items()]
    return types_pb2.LiteralType(
        structured_dataset_type=types_pb2.StructuredDatasetType(format=fmt, columns=cols)
    )


def schema(**columns: int) -> types_pb2.LiteralType:
    cols = [types_pb2.SchemaType.SchemaColumn(name=n, type=t) for n, t in columns.items()]
    return types_pb2.LiteralType(schema=types_pb2.SchemaType(columns=cols))


def struct(
    json_schema: Mapping[str, Any] | None = None, **fields: types_pb2.LiteralType
) -> types_pb2.LiteralType:
    """A STRUCT type, with a JSON schema in its metadata and dataclass field types if given."""
    result = types_pb2.LiteralType(simple=SIMPLE.STRUCT)
    if json_schema is not None:
        result.metadata.update(json_schema)
    for name, field_type in fields.items():
        result.structure.dataclass_type[name].CopyFrom(field_type)
    return result


def object_schema(title: str, required: Iterable[str], **properties: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON schema of an object as mashumaro writes one for a dataclass."""
    return {
        "title": title,
        "type": "object",
        "required": list(required),
        "properties": {name: dict(prop) for name, prop in properties.items()},
        "additionalProperties": False,
    }


def scalar(value: Any) -> literals_pb2.Scalar:
    if value is None:
        return literals_pb2.Scalar(none_type=literals_pb2.Void())
    if isinstance(value, bool):
        return literals_pb2.Scalar(primitive=literals_pb2.Primitive(boolean=value))
    if isinstance(value, int):
        return literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=value))
    if isinstance(value, float):
        return literals_pb2.Scalar(primitive=literals_pb2.Primitive(float_value=value))
    if isinstance(value, str):
        return literals_pb2.Scalar(primitive=literals_pb2.Primitive(string_value=value))
    if isinstance(value, dict):
        generic = struct_pb2.Struct()
        generic.update(value)
        return literals_pb2.Scalar(generic=generic)
    raise TypeError(f"no scalar for {value!r}")


def literal(value: Any) -> literals_pb2.Literal:
    """A literal of a Python value: lists become collections, dicts of str → values maps."""
    if isinstance(value, list):
        return literals_pb2.Literal(
            collection=literals_pb2.LiteralCollection(literals=[literal(v) for v in value])
        )
    if isinstance(value, tuple):  # a tuple marks a map, to tell it from a generic struct
        return literals_pb2.Literal(map=literals_pb2.LiteralMap(literals={k: literal(v) for k, v in value}))
    return literals_pb2.Literal(scalar=scalar(value))
