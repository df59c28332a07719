"""Task inputs (flyteidl literals) as Python values for query parameters."""

from __future__ import annotations

import datetime
from typing import Any

from flyteidl.core import literals_pb2, types_pb2

__all__ = ["UnsupportedInputError", "input_values"]


class UnsupportedInputError(ValueError):
    """An input whose type cannot be a query parameter; the message names it."""


def input_values(
    inputs: literals_pb2.LiteralMap, variables: Any
) -> dict[str, tuple[types_pb2.LiteralType, Any]]:
    """Each input's declared type and Python value (int, float, str, bool, datetime, timedelta, lists)."""
    values: dict[str, tuple[types_pb2.LiteralType, Any]] = {}
    for name, variable in variables.items():
        if name not in inputs.literals:
            raise UnsupportedInputError(f"input {name!r} was not given")
        values[name] = (variable.type, _value(name, inputs.literals[name]))
    return values


def _value(name: str, literal: literals_pb2.Literal) -> Any:
    kind = literal.WhichOneof("value")
    if kind == "collection":
        return [_value(name, item) for item in literal.collection.literals]
    if kind == "scalar":
        scalar = literal.scalar
        if scalar.WhichOneof("value") == "none_type":
            return None
        if scalar.WhichOneof("value") == "primitive":
            primitive = scalar.primitive
            which = primitive.WhichOneof("value")
            if which == "integer":
                return primitive.integer
            if which == "float_value":
                return primitive.float_value
            if which == "string_value":
                return primitive.string_value
            if which == "boolean":
                return primitive.boolean
            if which == "datetime":
                return primitive.datetime.ToDatetime(tzinfo=datetime.UTC)
            if which == "duration":
                return primitive.duration.ToTimedelta()
        got = scalar.WhichOneof("value")
    else:
        got = kind
    raise UnsupportedInputError(
        f"input {name!r} is a {got}, which cannot be a query parameter "
        "(integers, floats, strings, booleans, datetimes, durations and lists of them can)"
    )
