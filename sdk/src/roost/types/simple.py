"""Transformers of the scalar types: int, float, str, bool, datetime, date, timedelta and None.

Values must have the declared type (flytekit's rule, which also keeps union variants apart): ``1`` is not a
float and ``True`` is not an int. Integers of other libraries (``numpy.int64``) count as int and float
subclasses (``numpy.float64``) as float.

Datetimes travel as UTC timestamps: a naive datetime is taken to be UTC, an aware one is converted, and
reading always gives an aware datetime in UTC. A date travels as midnight UTC of that day.
"""

from __future__ import annotations

import datetime
import numbers
from typing import Any

from flyteidl.core import literals_pb2, types_pb2
from google.protobuf import duration_pb2, timestamp_pb2

from roost.types._protos import (
    SIMPLE,
    data_mismatch,
    literal_mismatch,
    primitive_literal,
    scalar_kind,
    scalar_literal,
    simple_type,
)
from roost.types.context import TypeContext
from roost.types.errors import InvalidValueError, mismatch
from roost.types.transformer import TypeTransformer

_UTC = datetime.UTC


def _primitive(literal: literals_pb2.Literal, python_type: Any) -> tuple[str, Any]:
    """``(field name, value)`` of a primitive literal; anything else is an error."""
    if scalar_kind(literal) != "primitive":
        raise literal_mismatch(python_type, literal)
    primitive = literal.scalar.primitive
    which = primitive.WhichOneof("value")
    if which is None:
        raise literal_mismatch(python_type, literal)
    return which, getattr(primitive, which)


class _Scalar(TypeTransformer[Any]):
    """Shared shape of the scalar transformers: one simple type, one primitive field."""

    simple: int
    schema: dict[str, Any]

    def get_literal_type(self, python_type: Any) -> types_pb2.LiteralType:
        return simple_type(self.simple)

    def guess_python_type(self, literal_type: types_pb2.LiteralType) -> Any | None:
        if literal_type.WhichOneof("type") == "simple" and literal_type.simple == self.simple:
            return self.python_type
        return None

    def json_schema(self, python_type: Any) -> dict[str, Any]:
        return dict(self.schema)


class IntTransformer(_Scalar):
    """``int`` ↔ ``INTEGER``."""

    simple = SIMPLE.INTEGER
    schema = {"type": "integer"}

    def __init__(self) -> None:
        super().__init__("int", int)

    @staticmethod
    def _check(value: Any) -> int:
        if type(value) is int:  # the common case, without the slower check against the abstract class
            return value
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise mismatch(int, value)
        return int(value)

    def to_literal(
        self, ctx: TypeContext, value: Any, python_type: Any, expected: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        number = self._check(value)
        try:
            return primitive_literal(integer=number)
        except ValueError:
            raise InvalidValueError(
                f"{number} does not fit in a 64-bit integer", python_type=int, value=value
            ) from None

    def to_python_value(self, ctx: TypeContext, literal: literals_pb2.Literal, python_type: Any) -> int:
        which, value = _primitive(literal, int)
        if which == "integer":
            return int(value)
        # Flyte's console sends whole numbers as floats.
        if which == "float_value" and float(value).is_integer():
            return int(value)
        raise literal_mismatch(int, literal)

    def to_struct_data(self, ctx: TypeContext, value: Any, python_type: Any) -> Any:
        return self._check(value)

    def from_struct_data(self, ctx: TypeContext, data: Any, python_type: Any) -> int:
        if isinstance(data, int) and not isinstance(data, bool):
            return data
        if isinstance(data, float) and data.is_integer():
            return int(data)
        raise data_mismatch(int, data)


class FloatTransformer(_Scalar):
    """``float`` ↔ ``FLOAT``; integer literals are read as floats too."""

    simple = SIMPLE.FLOAT
    schema = {"type": "number"}

    def __init__(self) -> None:
        super().__init__("float", float)

    def to_literal(
        self, ctx: TypeContext, value: Any, python_type: Any, expected: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        if not isinstance(value, float):
            raise mismatch(float, value)
        return primitive_literal(float_value=float(value))

    def to_python_value(self, ctx: TypeContext, literal: literals_pb2.Literal, python_type: Any) -> float:
        which, value = _primitive(literal, float)
        if which in ("float_value", "integer"):
            return float(value)
        raise literal_mismatch(float, literal)

    def to_struct_data(self, ctx: TypeContext, value: Any, python_type: Any) -> Any:
        # A whole number in a float field is fine in a struct (mashumaro writes what it gets).
        if isinstance(value, bool) or not isinstance(value, float | int):
            raise mismatch(float, value)
        return float(value)

    def from_struct_data(self, ctx: TypeContext, data: Any, python_type: Any) -> float:
        if isinstance(data, bool) or not isinstance(data, float | int):
            raise data_mismatch(float, data)
        return float(data)


class StrTransformer(_Scalar):
    """``str`` ↔ ``STRING``."""

    simple = SIMPLE.STRING
    schema = {"type": "string"}

    def __init__(self) -> None:
        super().__init__("str", str)

    def to_literal(
        self, ctx: TypeContext, value: Any, python_type: Any, expected: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        if type(value) is not str:
            raise mismatch(str, value)
        return primitive_literal(string_value=value)

    def to_python_value(self, ctx: TypeContext, literal: literals_pb2.Literal, python_type: Any) -> str:
        which, value = _primitive(literal, str)
        if which == "string_value":
            return str(value)
        raise literal_mismatch(str, literal)

    def to_struct_data(self, ctx: TypeContext, value: Any, python_type: Any) -> Any:
        if type(value) is not str:
            raise mismatch(str, value)
        return value

    def from_struct_data(self, ctx: TypeContext, data: Any, python_type: Any) -> str:
        if not isinstance(data, str):
            raise data_mismatch(str, data)
        return data


class BoolTransformer(_Scalar):
    """``bool`` ↔ ``BOOLEAN``."""

    simple = SIMPLE.BOOLEAN
    schema = {"type": "boolean"}

    def __init__(self) -> None:
        super().__init__("bool", bool)

    def to_literal(
        self, ctx: TypeContext, value: Any, python_type: Any, expected: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        if not isinstance(value, bool):
            raise mismatch(bool, value)
        return primitive_literal(boolean=value)

    def to_python_value(self, ctx: TypeContext, literal: literals_pb2.Literal, python_type: Any) -> bool:
        which, value = _primitive(literal, bool)
        if which == "boolean":
            return bool(value)
        raise literal_mismatch(bool, literal)

    def to_struct_data(self, ctx: TypeContext, value: Any, python_type: Any) -> Any:
        if not isinstance(value, bool):
            raise mismatch(bool, value)
        return value

    def from_struct_data(self, ctx: TypeContext, data: Any, python_type: Any) -> bool:
        if not isinstance(data, bool):
            raise data_mismatch(bool, data)
        return data


_PRIMITIVE_FIELDS: dict[type[TypeTransformer[Any]], str] = {
    IntTransformer: "integer",
    FloatTransformer: "float_value",
    StrTransformer: "string_value",
    BoolTransformer: "boolean",
}


def primitive_field(transformer: TypeTransformer[Any], python_type: Any) -> str:
    """The ``Primitive`` field holding values of ``python_type`` as they are, when ``transformer`` is the
    built-in one for exactly that type; "" otherwise. Converters of many values (a map's indices) read and
    write that field directly, and leave anything else to the transformer."""
    field = _PRIMITIVE_FIELDS.get(type(transformer), "")
    return field if python_type is transformer.python_type else ""


def _timestamp(moment: datetime.datetime) -> timestamp_pb2.Timestamp:
    if moment.tzinfo is not None:
        moment = moment.astimezone(_UTC).replace(tzinfo=None)
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def _read_datetime(literal: literals_pb2.Literal, python_type: Any) -> datetime.datetime:
    which, value = _primitive(literal, python_type)
    if which != "datetime":
        raise literal_mismatch(python_type, literal)
    moment: datetime.datetime = value.ToDatetime(tzinfo=_UTC)
    return moment


def _parse_iso(data: Any, python_type: Any, parse: Any) -> Any:
    if not isinstance(data, str):
        raise data_mismatch(python_type, data)
    try:
        return parse(data)
    except ValueError as exc:
        raise data_mismatch(python_type, data, str(exc)) from None


class DatetimeTransformer(_Scalar):
    """``datetime`` ↔ ``DATETIME`` (UTC; see the module docstring)."""

    simple = SIMPLE.DATETIME
    schema = {"type": "string", "format": "date-time"}

    def __init__(self) -> None:
        super().__init__("datetime", datetime.datetime)

    def to_literal(
        self, ctx: TypeContext, value: Any, python_type: Any, expected: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        if not isinstance(value, datetime.datetime):
            raise mismatch(datetime.datetime, value)
        return scalar_literal(primitive=literals_pb2.Primitive(datetime=_timestamp(value)))

    def to_python_value(
        self, ctx: TypeContext, literal: literals_pb2.Literal, python_type: Any
    ) -> datetime.datetime:
        return _read_datetime(literal, datetime.datetime)

    def to_struct_data(self, ctx: TypeContext, value: Any, python_type: Any) -> Any:
        if not isinstance(value, datetime.datetime):
            raise mismatch(datetime.datetime, value)
        return value.isoformat()

    def from_struct_data(self, ctx: TypeContext, data: Any, python_type: Any) -> datetime.datetime:
        parsed: datetime.datetime = _parse_iso(data, datetime.datetime, datetime.datetime.fromisoformat)
        return parsed


class DateTransformer(_Scalar):
    """``date`` ↔ ``DATETIME`` at midnight UTC. Guessing ``DATETIME`` gives ``datetime``, not ``date``."""

    simple = SIMPLE.DATETIME
    schema = {"type": "string", "format": "date"}

    def __init__(self) -> None:
        super().__init__("date", datetime.date)

    def guess_python_type(self, literal_type: types_pb2.LiteralType) -> Any | None:
        return None

    @staticmethod
    def _check(value: Any) -> datetime.date:
        # A datetime is a date too, but silently dropping its time would lose data.
        if type(value) is not datetime.date:
            raise mismatch(datetime.date, value)
        return value

    def to_literal(
        self, ctx: TypeContext, value: Any, python_type: Any, expected: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        day = self._check(value)
        midnight = datetime.datetime.combine(day, datetime.time.min)
        return scalar_literal(primitive=literals_pb2.Primitive(datetime=_timestamp(midnight)))

    def to_python_value(
        self, ctx: TypeContext, literal: literals_pb2.Literal, python_type: Any
    ) -> datetime.date:
        return _read_datetime(literal, datetime.date).date()

    def to_struct_data(self, ctx: TypeContext, value: Any, python_type: Any) -> Any:
        return self._check(value).isoformat()

    def from_struct_data(self, ctx: TypeContext, data: Any, python_type: Any) -> datetime.date:
        parsed: datetime.date = _parse_iso(data, datetime.date, datetime.date.fromisoformat)
        return parsed


class TimedeltaTransformer(_Scalar):
    """``timedelta`` ↔ ``DURATION``."""

    simple = SIMPLE.DURATION
    schema = {"type": "number", "format": "time-delta"}

    def __init__(self) -> None:
        super().__init__("timedelta", datetime.timedelta)

    def to_literal(
        self, ctx: TypeContext, value: Any, python_type: Any, expected: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        if not isinstance(value, datetime.timedelta):
            raise mismatch(datetime.timedelta, value)
        duration = duration_pb2.Duration()
        duration.FromTimedelta(value)
        return scalar_literal(primitive=literals_pb2.Primitive(duration=duration))

    def to_python_value(
        self, ctx: TypeContext, literal: literals_pb2.Literal, python_type: Any
    ) -> datetime.timedelta:
        which, value = _primitive(literal, datetime.timedelta)
        if which != "duration":
            raise literal_mismatch(datetime.timedelta, literal)
        delta: datetime.timedelta = value.ToTimedelta()
        return delta

    def to_struct_data(self, ctx: TypeContext, value: Any, python_type: Any) -> Any:
        if not isinstance(value, datetime.timedelta):
            raise mismatch(datetime.timedelta, value)
        return value.total_seconds()

    def from_struct_data(self, ctx: TypeContext, data: Any, python_type: Any) -> datetime.timedelta:
        if isinstance(data, bool) or not isinstance(data, int | float):
            raise data_mismatch(datetime.timedelta, data)
        return datetime.timedelta(seconds=data)


class NoneTransformer(_Scalar):
    """``None`` ↔ ``NONE``."""

    simple = SIMPLE.NONE
    schema = {"type": "null"}

    def __init__(self) -> None:
        super().__init__("none", type(None))

    def to_literal(
        self, ctx: TypeContext, value: Any, python_type: Any, expected: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        if value is not None:
            raise mismatch(type(None), value)
        return scalar_literal(none_type=literals_pb2.Void())

    def to_python_value(self, ctx: TypeContext, literal: literals_pb2.Literal, python_type: Any) -> None:
        if scalar_kind(literal) != "none_type":
            raise literal_mismatch(type(None), literal)

    def to_struct_data(self, ctx: TypeContext, value: Any, python_type: Any) -> Any:
        if value is not None:
            raise mismatch(type(None), value)
        return None

    def from_struct_data(self, ctx: TypeContext, data: Any, python_type: Any) -> None:
        if data is not None:
            raise data_mismatch(type(None), data)
