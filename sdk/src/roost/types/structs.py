"""The dataclass transformer: flytekit's msgpack encoding, JSON schema and attribute-access structure.

A dataclass's literal type is ``STRUCT`` with the JSON schema mashumaro writes (draft 2020-12) as
``metadata``, each field's literal type under ``structure.dataclass_type`` (what Flyte's attribute access
reads) and the msgpack cache-key annotation. Its value is a msgpack ``Binary`` of a map of field names to
each field's struct data (see :meth:`~roost.types.transformer.TypeTransformer.to_struct_data`); reading
also accepts the JSON ``Struct`` literals that flytekit wrote before msgpack.

Fields are checked against their declared types on the way in and out, and errors name the field
(``.inner.x: expected int but got str ('7')``). Recursive dataclasses are not supported.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import functools
import json
import threading
import typing
from typing import Any

from flyteidl.core import literals_pb2, types_pb2

from roost.types._protos import (
    SIMPLE,
    data_mismatch,
    from_struct,
    literal_mismatch,
    msgpack_annotation,
    msgpack_literal,
    simple_type,
    to_struct,
)
from roost.types.context import TypeContext
from roost.types.errors import TypeTransformerError, UnsupportedTypeError, mismatch, type_name
from roost.types.transformer import TypeTransformer, unwrap_annotated

_building = threading.local()


@functools.lru_cache(maxsize=1024)
def _fields_and_hints(dataclass_type: type) -> tuple[tuple[dataclasses.Field[Any], ...], dict[str, Any]]:
    try:
        hints = typing.get_type_hints(dataclass_type, include_extras=True)
    except NameError as exc:
        raise UnsupportedTypeError(
            f"the field types of {type_name(dataclass_type)} cannot be resolved: {exc}",
            python_type=dataclass_type,
        ) from None
    return dataclasses.fields(dataclass_type), hints


class DataclassTransformer(TypeTransformer[Any]):
    """Dataclasses ↔ msgpack ``STRUCT`` literals (flytekit's encoding)."""

    def __init__(self) -> None:
        super().__init__("Object-Dataclass-Transformer", None)

    def handles(self, python_type: Any) -> bool:
        return isinstance(python_type, type) and dataclasses.is_dataclass(python_type)

    def get_literal_type(self, python_type: Any) -> types_pb2.LiteralType:
        dataclass_type, _ = unwrap_annotated(python_type)
        literal_type = simple_type(SIMPLE.STRUCT)
        literal_type.metadata.CopyFrom(to_struct(self.json_schema(dataclass_type)))
        fields, hints = _fields_and_hints(dataclass_type)
        for field in fields:
            # The schema above has already refused fields the value cannot hold; a field that the value
            # holds but that has no literal type of its own (a bare list) is left out of the attribute-access
            # structure, as flytekit leaves it out.
            try:
                field_type = self.engine.to_literal_type(hints[field.name])
            except UnsupportedTypeError:
                continue
            literal_type.structure.dataclass_type[field.name].CopyFrom(field_type)
        literal_type.annotation.CopyFrom(msgpack_annotation())
        return literal_type

    def to_literal(
        self, ctx: TypeContext, value: Any, python_type: Any, expected: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        return msgpack_literal(self.to_struct_data(ctx, value, python_type))

    def to_python_value(self, ctx: TypeContext, literal: literals_pb2.Literal, python_type: Any) -> Any:
        # msgpack binaries and Structs are read by the engine through from_struct_data.
        raise literal_mismatch(python_type, literal)

    def guess_python_type(self, literal_type: types_pb2.LiteralType) -> Any | None:
        if literal_type.WhichOneof("type") != "simple" or literal_type.simple != SIMPLE.STRUCT:
            return None
        if not literal_type.HasField("metadata"):
            return None
        schema = from_struct(literal_type.metadata)
        if not isinstance(schema.get("title"), str) or not isinstance(schema.get("properties"), dict):
            return None
        return _dataclass_from_schema(json.dumps(schema, sort_keys=True))

    def to_struct_data(self, ctx: TypeContext, value: Any, python_type: Any) -> Any:
        dataclass_type, _ = unwrap_annotated(python_type)
        if not isinstance(value, dataclass_type):
            raise mismatch(python_type, value)
        fields, hints = _fields_and_hints(dataclass_type)
        data = {}
        for field in fields:
            try:
                data[field.name] = self.engine.to_struct_data(
                    ctx, getattr(value, field.name), hints[field.name]
                )
            except TypeTransformerError as exc:
                exc.inside(f".{field.name}")
                raise
        return data

    def from_struct_data(self, ctx: TypeContext, data: Any, python_type: Any) -> Any:
        dataclass_type, _ = unwrap_annotated(python_type)
        if not isinstance(data, dict):
            raise data_mismatch(python_type, data)
        fields, hints = _fields_and_hints(dataclass_type)
        arguments = {}
        for field in fields:
            if not field.init:
                continue
            if field.name not in data:
                if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                    raise data_mismatch(python_type, data, f"field {field.name!r} is missing")
                continue
            try:
                arguments[field.name] = self.engine.from_struct_data(ctx, data[field.name], hints[field.name])
            except TypeTransformerError as exc:
                exc.inside(f".{field.name}")
                raise
        return dataclass_type(**arguments)

    def json_schema(self, python_type: Any) -> dict[str, Any]:
        dataclass_type, _ = unwrap_annotated(python_type)
        stack: list[type] = _building.__dict__.setdefault("stack", [])
        if dataclass_type in stack:
            raise UnsupportedTypeError(
                f"dataclass {type_name(dataclass_type)} refers to itself; recursive dataclasses are not supported",
                python_type=dataclass_type,
            )
        stack.append(dataclass_type)
        try:
            return self._object_schema(dataclass_type)
        finally:
            stack.pop()

    def _object_schema(self, dataclass_type: type) -> dict[str, Any]:
        fields, hints = _fields_and_hints(dataclass_type)
        properties: dict[str, Any] = {}
        required = []
        for field in fields:
            if not field.init:
                continue
            try:
                schema = self.engine.json_schema(hints[field.name])
            except TypeTransformerError as exc:
                exc.inside(f".{field.name}")
                raise
            if field.default is not dataclasses.MISSING:
                default = _schema_default(field.default)
                if default is not _OMIT:
                    schema["default"] = default
            elif field.default_factory is dataclasses.MISSING:
                required.append(field.name)
            properties[field.name] = schema
        schema = {
            "type": "object",
            "title": dataclass_type.__name__,
            "properties": properties,
            "additionalProperties": False,
        }
        if required:
            schema["required"] = required
        return schema


_OMIT: Any = object()


def _schema_default(value: Any) -> Any:
    """A field default as mashumaro writes it into the schema; ``_OMIT`` for what it cannot write."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, list | tuple):
        items = [_schema_default(v) for v in value]
        return _OMIT if any(i is _OMIT for i in items) else items
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: _schema_default(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return _OMIT if any(v is _OMIT for v in fields.values()) else fields
    return _OMIT


# -------------------------------------------------------------------------------------------------
# Guessing a dataclass from a JSON schema (for literal types registered by others)

_SIMPLE_JSON_TYPES: dict[str, Any] = {
    "integer": int,
    "number": float,
    "string": str,
    "boolean": bool,
    "null": type(None),
}


@functools.lru_cache(maxsize=256)
def _dataclass_from_schema(schema_json: str) -> type:
    """A dataclass with the schema's title and properties; cached, so equal schemas give the same class."""
    schema = json.loads(schema_json)
    definitions = schema.get("$defs", {})
    return _make_dataclass(schema, definitions)


def _make_dataclass(schema: dict[str, Any], definitions: dict[str, Any]) -> type:
    fields = [(name, _python_type_of(prop, definitions)) for name, prop in schema["properties"].items()]
    return dataclasses.make_dataclass(str(schema["title"]), fields)


def _python_type_of(schema: dict[str, Any], definitions: dict[str, Any]) -> Any:
    if "$ref" in schema:
        target = definitions.get(str(schema["$ref"]).rsplit("/", 1)[-1], {})
        return _python_type_of(target, definitions) if target else Any
    if "anyOf" in schema:
        variants = tuple(_python_type_of(v, definitions) for v in schema["anyOf"])
        return typing.Union[variants]  # noqa: UP007 -- built from a runtime tuple
    if "enum" in schema:
        return str
    kind = schema.get("type")
    if kind == "array":
        items = schema.get("items")
        return list[_python_type_of(items, definitions) if isinstance(items, dict) else Any]  # type: ignore[misc]
    if kind == "object":
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            return dict[str, _python_type_of(extra, definitions)]  # type: ignore[misc]
        if isinstance(schema.get("title"), str) and isinstance(schema.get("properties"), dict):
            return _make_dataclass(schema, definitions)
        return dict
    if kind == "number" and schema.get("format") == "integer":
        return int
    return _SIMPLE_JSON_TYPES.get(str(kind), Any)
