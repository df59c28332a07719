"""HTTP requests to flyteidl request messages and responses back, as grpc-gateway transcodes them for flyteadmin.

- A request is the JSON body (for routes whose body is ``*``; protobuf's JSON mapping, field names as in the
  ``.proto`` or in lowerCamelCase), or the protobuf bytes when the body is ``application/octet-stream``; then the
  path's variables, then (for routes without a body) the query string, whose keys are dotted field paths
  (``sort_by.direction=DESCENDING``, ``limit=20``, ``filters=eq(phase,RUNNING)``), repeated keys filling repeated
  fields, enums by name or number, timestamps and durations in their JSON form.
- A response is JSON with the ``.proto`` field names and every field written, defaults included (flyteadmin's
  ``application/json`` marshaller), or protobuf bytes when the client accepts ``application/octet-stream`` (what
  flyteconsole asks for).

Anything that does not fit the message is an InvalidArgument naming the field and the message.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message

from roost_admin.errors import InvalidArgument

PROTOBUF = "application/octet-stream"
"""The media type of protobuf bytes, both ways."""

_INTEGERS = frozenset(
    {
        FieldDescriptor.TYPE_INT32,
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_UINT32,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_SINT32,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_FIXED32,
        FieldDescriptor.TYPE_FIXED64,
        FieldDescriptor.TYPE_SFIXED32,
        FieldDescriptor.TYPE_SFIXED64,
    }
)
_FLOATS = frozenset({FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE})
_TEXT_TYPES = frozenset(
    {
        "google.protobuf.Timestamp",
        "google.protobuf.Duration",
        "google.protobuf.FieldMask",
    }
)
_WRAPPERS = frozenset(
    f"google.protobuf.{name}Value"
    for name in ("Double", "Float", "Int64", "UInt64", "Int32", "UInt32", "Bool", "String", "Bytes")
)


def parse_body(message: Message, body: bytes, content_type: str) -> None:
    """Fill ``message`` from a request body: protobuf bytes or JSON (by the content type)."""
    if not body:
        return
    name = message.DESCRIPTOR.name
    if content_type.split(";", maxsplit=1)[0].strip().lower() == PROTOBUF:
        try:
            message.ParseFromString(body)
        except DecodeError as exc:
            raise InvalidArgument(f"the request body is not a valid {name} in protobuf: {exc}") from None
        return
    try:
        json_format.Parse(body, message)
    except json_format.ParseError as exc:
        raise InvalidArgument(f"the request body is not a valid {name} in JSON: {exc}") from None
    except UnicodeDecodeError:
        raise InvalidArgument(f"the request body is not a valid {name} in JSON: it is not UTF-8") from None


def set_field(message: Message, path: str, values: Iterable[str], where: str) -> None:
    """Set the field at dotted ``path`` of ``message`` from text ``values`` (several for a repeated field);
    ``where`` names where the values came from (``the path``, ``the query string``) in errors."""
    values = list(values)
    parts = path.split(".")
    target = message
    for index, part in enumerate(parts):
        field = _field(target.DESCRIPTOR, part)
        dotted = ".".join(parts[: index + 1])
        if field is None:
            raise InvalidArgument(
                f"{where} sets {path!r}, but {target.DESCRIPTOR.full_name} has no field {part!r}",
                field=dotted,
            )
        last = index == len(parts) - 1
        message_type = field.message_type
        if not last:
            if message_type is None or _is_repeated(field) or _is_leaf_message(message_type):
                raise InvalidArgument(
                    f"{where} sets {path!r}, but {dotted!r} has no fields to set", field=dotted
                )
            target = getattr(target, field.name)
            continue
        if message_type is not None and not _is_leaf_message(message_type):
            raise InvalidArgument(
                f"{where} sets {path!r}, a {message_type.full_name}: set its fields instead ({path}.<field>=...)",
                field=dotted,
            )
        if not _is_repeated(field) and len(values) > 1:
            raise InvalidArgument(
                f"{where} sets {path!r} {len(values)} times; it holds one value", field=dotted
            )
        try:
            if _is_repeated(field):
                container = getattr(target, field.name)
                for value in values:
                    if message_type is not None:
                        _set_leaf_message(container.add(), value)
                    else:
                        container.append(_scalar(field, value))
            elif message_type is not None:
                _set_leaf_message(getattr(target, field.name), values[0])
            else:
                setattr(target, field.name, _scalar(field, values[0]))
        except (ValueError, TypeError, json_format.ParseError) as exc:
            raise InvalidArgument(
                f"{where} sets {path!r} to {values[-1]!r}: {_reason(exc)}", field=dotted
            ) from None


def render(message: Message, accept: str) -> tuple[bytes, str]:
    """The body and media type answering ``message`` to a client that accepts ``accept``."""
    if PROTOBUF in accept.lower():
        return message.SerializeToString(), PROTOBUF
    text = json_format.MessageToJson(
        message,
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
        indent=None,
    )
    return text.encode(), "application/json"


def _field(descriptor: Any, name: str) -> Any:
    """The field called ``name`` (as in the ``.proto`` or in JSON) of a message descriptor, or None. (Any: a
    message's DESCRIPTOR is typed as the C implementation's class or the Python one.)"""
    found = descriptor.fields_by_name.get(name)
    if found is not None:
        return found
    return next((field for field in descriptor.fields if field.json_name == name), None)


def _is_repeated(field: FieldDescriptor) -> bool:
    return bool(field.is_repeated)


def _is_leaf_message(descriptor: Descriptor) -> bool:
    """Messages written as one value: timestamps, durations, field masks and wrappers."""
    return descriptor.full_name in _TEXT_TYPES or descriptor.full_name in _WRAPPERS


def _set_leaf_message(target: Message, value: str) -> None:
    if target.DESCRIPTOR.full_name in _WRAPPERS:
        target.value = _scalar(target.DESCRIPTOR.fields_by_name["value"], value)  # type: ignore[attr-defined]
    else:
        json_format.Parse(json.dumps(value), target)


def _scalar(field: Any, value: str) -> object:
    kind = field.type
    if kind == FieldDescriptor.TYPE_STRING:
        return value
    if kind == FieldDescriptor.TYPE_BOOL:
        lowered = value.lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        raise ValueError("expected true or false")
    if kind in _INTEGERS:
        return int(value)
    if kind in _FLOATS:
        return float(value)
    if kind == FieldDescriptor.TYPE_ENUM:
        enum = field.enum_type
        assert enum is not None
        named = enum.values_by_name.get(value)
        if named is not None:
            return named.number
        if value.lstrip("-").isdigit() and int(value) in enum.values_by_number:
            return int(value)
        names = ", ".join(item.name for item in enum.values)
        raise ValueError(f"not a {enum.full_name} (one of {names})")
    if kind == FieldDescriptor.TYPE_BYTES:
        padded = value + "=" * (-len(value) % 4)
        try:
            return base64.urlsafe_b64decode(padded.replace("+", "-").replace("/", "_"))
        except binascii.Error:
            raise ValueError("expected base64") from None
    raise ValueError(f"fields of type {kind} cannot be set from text")


def _reason(exc: Exception) -> str:
    text = str(exc)
    if "invalid literal for int()" in text:
        return "expected an integer"
    if "could not convert string to float" in text:
        return "expected a number"
    return text
