"""Literals for people: shown by type (numbers, text, JSON for structs and collections, links for files and
data frames), and read back from a launch form's fields, generated from a typed interface, each error naming the
input at fault."""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flyteidl.core import interface_pb2, literals_pb2, types_pb2
from google.protobuf import json_format, struct_pb2

from roost_core.literal_types import SIMPLE_NAMES

_SIMPLE = types_pb2.SimpleType


@dataclass(frozen=True)
class Link:
    """A value stored elsewhere (a file, a folder, a data frame): shown as its URI."""

    uri: str
    kind: str


def python_value(literal: literals_pb2.Literal) -> Any:
    """``literal`` as plain Python (lists, dicts, scalars; :class:`Link` for blobs and data frames)."""
    which = literal.WhichOneof("value")
    if which == "collection":
        return [python_value(item) for item in literal.collection.literals]
    if which == "map":
        return {key: python_value(item) for key, item in literal.map.literals.items()}
    if which == "offloaded_metadata":
        return Link(literal.offloaded_metadata.uri, "offloaded literal")
    scalar = literal.scalar
    kind = scalar.WhichOneof("value")
    if kind == "primitive":
        primitive = scalar.primitive
        value = getattr(primitive, primitive.WhichOneof("value") or "integer")
        if primitive.WhichOneof("value") == "datetime":
            return value.ToJsonString()
        if primitive.WhichOneof("value") == "duration":
            return value.ToJsonString()
        return value
    if kind == "blob":
        return Link(scalar.blob.uri, "folder" if scalar.blob.metadata.type.dimensionality else "file")
    if kind == "structured_dataset":
        return Link(scalar.structured_dataset.uri, "data frame")
    if kind == "generic":
        return json_format.MessageToDict(scalar.generic)
    if kind == "union":
        return python_value(scalar.union.value)
    if kind == "none_type":
        return None
    if kind == "error":
        return {"error": scalar.error.message}
    if kind == "binary":
        return f"<{len(scalar.binary.value)} bytes, {scalar.binary.tag or 'binary'}>"
    return json_format.MessageToDict(literal)


def shown(value: Any) -> str:
    """A plain value as text (JSON for lists and dicts, with links as their URIs)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, default=lambda v: v.uri if isinstance(v, Link) else str(v), indent=None)


def type_label(literal_type: types_pb2.LiteralType) -> str:
    """``int``, ``list[str]``, ``dict[str, float]``, ``file`` ..."""
    which = literal_type.WhichOneof("type")
    if which == "simple":
        if literal_type.simple == _SIMPLE.STRUCT:
            return "struct (JSON)"
        return SIMPLE_NAMES.get(literal_type.simple, str(_SIMPLE.Name(literal_type.simple)).lower())
    if which == "collection_type":
        return f"list[{type_label(literal_type.collection_type)}]"
    if which == "map_value_type":
        return f"dict[str, {type_label(literal_type.map_value_type)}]"
    if which == "blob":
        return "folder" if literal_type.blob.dimensionality else "file"
    if which == "structured_dataset_type":
        return "data frame"
    if which == "union_type":
        return " | ".join(type_label(variant) for variant in literal_type.union_type.variants)
    if which == "enum_type":
        return "enum(" + ", ".join(literal_type.enum_type.values) + ")"
    return which or "unknown"


@dataclass(frozen=True)
class FormField:
    """One input of a launch form."""

    name: str
    label: str
    """The input's type, as :func:`type_label` writes it."""
    widget: str
    """``number``, ``decimal``, ``text``, ``checkbox``, ``datetime``, ``select`` or ``json``."""
    required: bool
    default: str
    description: str
    choices: tuple[str, ...] = ()


def form_fields(parameters: interface_pb2.ParameterMap) -> list[FormField]:
    """The launch form of a launch plan's expected inputs, defaults filled."""
    fields = []
    for name, parameter in parameters.parameters.items():
        literal_type = parameter.var.type
        default = ""
        if parameter.HasField("default"):
            value = python_value(parameter.default)
            default = ("true" if value else "") if isinstance(value, bool) else shown(value)
        fields.append(
            FormField(
                name=name,
                label=type_label(literal_type),
                widget=_widget(literal_type),
                required=parameter.required,
                default=default,
                description=parameter.var.description if parameter.var.description != name else "",
                choices=tuple(literal_type.enum_type.values) if literal_type.HasField("enum_type") else (),
            )
        )
    return fields


def _widget(literal_type: types_pb2.LiteralType) -> str:
    if literal_type.HasField("enum_type"):
        return "select"
    if literal_type.WhichOneof("type") != "simple":
        return "text" if literal_type.WhichOneof("type") == "blob" else "json"
    return {
        _SIMPLE.INTEGER: "number",
        _SIMPLE.FLOAT: "decimal",
        _SIMPLE.BOOLEAN: "checkbox",
        _SIMPLE.DATETIME: "datetime",
        _SIMPLE.STRUCT: "json",
    }.get(literal_type.simple, "text")


class InputError(ValueError):
    """A form value that does not fit its input's type."""


def read_inputs(
    parameters: interface_pb2.ParameterMap, form: Mapping[str, str]
) -> tuple[literals_pb2.LiteralMap, dict[str, str]]:
    """The inputs a launch form sets (fields left empty keep their defaults), and the error of each field that
    does not fit its type or is required and empty."""
    inputs = literals_pb2.LiteralMap()
    errors: dict[str, str] = {}
    for name, parameter in parameters.parameters.items():
        literal_type = parameter.var.type
        text = form.get(name, "")
        if literal_type.simple == _SIMPLE.BOOLEAN and literal_type.WhichOneof("type") == "simple":
            text = "true" if text else "false"
        if text == "":
            if parameter.required:
                errors[name] = f"{name} is required ({type_label(literal_type)})"
            continue
        try:
            inputs.literals[name].CopyFrom(literal_of(literal_type, text))
        except InputError as exc:
            errors[name] = f"{name}: {exc}"
    return inputs, errors


def literal_of(literal_type: types_pb2.LiteralType, text: str) -> literals_pb2.Literal:
    """The literal of ``literal_type`` that a form's ``text`` means; InputError saying why not."""
    which = literal_type.WhichOneof("type")
    if which == "simple" and literal_type.simple not in (_SIMPLE.STRUCT, _SIMPLE.NONE):
        return _primitive(literal_type.simple, text)
    if which == "enum_type":
        if text not in literal_type.enum_type.values:
            raise InputError(f"{text!r} is not one of {', '.join(literal_type.enum_type.values)}")
        return literals_pb2.Literal(
            scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(string_value=text))
        )
    if which == "blob":
        return literals_pb2.Literal(
            scalar=literals_pb2.Scalar(
                blob=literals_pb2.Blob(uri=text, metadata=literals_pb2.BlobMetadata(type=literal_type.blob))
            )
        )
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{text!r} is not JSON ({exc.msg}); a {type_label(literal_type)} is written as JSON"
        ) from None
    return _from_json(literal_type, value, "")


def _from_json(literal_type: types_pb2.LiteralType, value: Any, where: str) -> literals_pb2.Literal:
    which = literal_type.WhichOneof("type")
    if which == "collection_type":
        if not isinstance(value, list):
            raise InputError(f"{where or 'the value'} must be a JSON list for {type_label(literal_type)}")
        return literals_pb2.Literal(
            collection=literals_pb2.LiteralCollection(
                literals=[
                    _from_json(literal_type.collection_type, item, f"{where}[{index}]")
                    for index, item in enumerate(value)
                ]
            )
        )
    if which == "map_value_type":
        if not isinstance(value, dict):
            raise InputError(f"{where or 'the value'} must be a JSON object for {type_label(literal_type)}")
        return literals_pb2.Literal(
            map=literals_pb2.LiteralMap(
                literals={
                    str(key): _from_json(literal_type.map_value_type, item, f"{where}[{key!r}]")
                    for key, item in value.items()
                }
            )
        )
    if which == "simple" and literal_type.simple == _SIMPLE.STRUCT:
        if not isinstance(value, dict):
            raise InputError(f"{where or 'the value'} must be a JSON object for a struct")
        struct = struct_pb2.Struct()
        struct.update(value)
        return literals_pb2.Literal(scalar=literals_pb2.Scalar(generic=struct))
    if which == "simple":
        text = json.dumps(value) if not isinstance(value, str) else value
        try:
            return _primitive(literal_type.simple, text)
        except InputError as exc:
            raise InputError(f"{where}: {exc}" if where else str(exc)) from None
    raise InputError(f"inputs of type {type_label(literal_type)} cannot be set from the console")


def _primitive(simple: int, text: str) -> literals_pb2.Literal:
    primitive = literals_pb2.Primitive()
    try:
        if simple == _SIMPLE.INTEGER:
            primitive.integer = int(text)
        elif simple == _SIMPLE.FLOAT:
            primitive.float_value = float(text)
        elif simple == _SIMPLE.BOOLEAN:
            if text.lower() not in ("true", "false"):
                raise ValueError
            primitive.boolean = text.lower() == "true"
        elif simple == _SIMPLE.DATETIME:
            moment = datetime.datetime.fromisoformat(text)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=datetime.UTC)
            primitive.datetime.FromDatetime(moment.astimezone(datetime.UTC))
        elif simple == _SIMPLE.DURATION:
            primitive.duration.FromJsonString(text if text.endswith("s") else f"{text}s")
        else:
            primitive.string_value = text
    except ValueError:
        raise InputError(f"{text!r} is not {_A[simple]}") from None
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=primitive))


_A = {
    _SIMPLE.INTEGER: "an integer",
    _SIMPLE.FLOAT: "a number",
    _SIMPLE.BOOLEAN: "true or false",
    _SIMPLE.DATETIME: "a date and time (ISO 8601, 2024-05-01T12:00)",
    _SIMPLE.DURATION: "a duration in seconds (90, or 1.5s)",
    _SIMPLE.STRING: "text",
}
