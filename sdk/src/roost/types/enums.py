"""Transformers of value sets: ``enum.Enum`` classes of strings, and ``typing.Literal[...]``."""

from __future__ import annotations

import enum
import typing
from typing import Any

from flyteidl.core import literals_pb2, types_pb2

from roost.types._protos import (
    SIMPLE,
    data_mismatch,
    from_struct,
    literal_mismatch,
    primitive_literal,
    scalar_kind,
    simple_type,
    to_struct,
)
from roost.types.context import TypeContext
from roost.types.errors import InvalidLiteralError, UnsupportedTypeError, mismatch, type_name
from roost.types.transformer import TypeTransformer, unwrap_annotated


def _quoted(values: typing.Iterable[Any]) -> str:
    return ", ".join(repr(v) for v in values)


class EnumTransformer(TypeTransformer[enum.Enum]):
    """Enums whose values are strings ↔ ``EnumType``. A value may be a member or one of the strings."""

    def __init__(self) -> None:
        super().__init__("DefaultEnumTransformer", None)

    def handles(self, python_type: Any) -> bool:
        return isinstance(python_type, type) and issubclass(python_type, enum.Enum)

    @staticmethod
    def _values(python_type: Any) -> list[str]:
        enum_class, _ = unwrap_annotated(python_type)
        values = [member.value for member in enum_class]
        if not values:
            raise UnsupportedTypeError(
                f"enum {type_name(enum_class)} has no members", python_type=python_type
            )
        others = [v for v in values if not isinstance(v, str)]
        if others:
            raise UnsupportedTypeError(
                f"enum {type_name(enum_class)} has values that are not strings ({_quoted(others)}); "
                "only enums of strings are supported",
                python_type=python_type,
            )
        return values

    def get_literal_type(self, python_type: Any) -> types_pb2.LiteralType:
        return types_pb2.LiteralType(enum_type=types_pb2.EnumType(values=self._values(python_type)))

    def _value_of(self, value: Any, python_type: Any) -> str:
        enum_class, _ = unwrap_annotated(python_type)
        values = self._values(python_type)
        if isinstance(value, enum.Enum):
            if not isinstance(value, enum_class):
                raise mismatch(enum_class, value)
            return str(value.value)
        if type(value) is str and value in values:
            return value
        raise mismatch(enum_class, value, f"not one of {_quoted(values)}")

    def to_literal(
        self, ctx: TypeContext, value: Any, python_type: Any, expected: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        return primitive_literal(string_value=self._value_of(value, python_type))

    def _member(self, text: Any, python_type: Any, error: InvalidLiteralError) -> enum.Enum:
        enum_class, _ = unwrap_annotated(python_type)
        try:
            member: enum.Enum = enum_class(text)
        except ValueError:
            raise error from None
        return member

    def to_python_value(self, ctx: TypeContext, literal: literals_pb2.Literal, python_type: Any) -> enum.Enum:
        enum_class, _ = unwrap_annotated(python_type)
        values = self._values(python_type)
        if (
            scalar_kind(literal) != "primitive"
            or literal.scalar.primitive.WhichOneof("value") != "string_value"
        ):
            raise literal_mismatch(enum_class, literal)
        return self._member(
            literal.scalar.primitive.string_value,
            python_type,
            literal_mismatch(enum_class, literal, f"not one of {_quoted(values)}"),
        )

    def guess_python_type(self, literal_type: types_pb2.LiteralType) -> Any | None:
        if literal_type.WhichOneof("type") != "enum_type":
            return None
        values = list(literal_type.enum_type.values)
        return enum.Enum("DynamicEnum", {value: value for value in values})

    def to_struct_data(self, ctx: TypeContext, value: Any, python_type: Any) -> Any:
        return self._value_of(value, python_type)

    def from_struct_data(self, ctx: TypeContext, data: Any, python_type: Any) -> enum.Enum:
        enum_class, _ = unwrap_annotated(python_type)
        values = self._values(python_type)
        return self._member(
            data, python_type, data_mismatch(enum_class, data, f"not one of {_quoted(values)}")
        )

    def json_schema(self, python_type: Any) -> dict[str, Any]:
        return {"enum": self._values(python_type)}


_LITERAL_SIMPLE: dict[type, int] = {
    str: SIMPLE.STRING,
    int: SIMPLE.INTEGER,
    float: SIMPLE.FLOAT,
    bool: SIMPLE.BOOLEAN,
}
_SIMPLE_LITERAL = {simple: python_type for python_type, simple in _LITERAL_SIMPLE.items()}
_LITERAL_VALUES = "literal_values"


class LiteralValuesTransformer(TypeTransformer[Any]):
    """``typing.Literal["a", "b"]`` ↔ the simple type of its values, annotated with the allowed values."""

    def __init__(self) -> None:
        super().__init__("LiteralTypeTransformer", typing.Literal)  # type: ignore[arg-type]

    @staticmethod
    def _base(python_type: Any) -> tuple[type, tuple[Any, ...]]:
        literal_type, _ = unwrap_annotated(python_type)
        values = typing.get_args(literal_type)
        kinds = {type(v) for v in values}
        if len(kinds) != 1 or next(iter(kinds)) not in _LITERAL_SIMPLE:
            raise UnsupportedTypeError(
                f"{type_name(literal_type)}: a Literal's values must all be str, all int, all float or all bool",
                python_type=python_type,
            )
        return next(iter(kinds)), values

    def get_literal_type(self, python_type: Any) -> types_pb2.LiteralType:
        base, values = self._base(python_type)
        literal_type = simple_type(_LITERAL_SIMPLE[base])
        literal_type.annotation.annotations.CopyFrom(to_struct({_LITERAL_VALUES: list(values)}))
        return literal_type

    def _check(self, value: Any, python_type: Any) -> Any:
        base, values = self._base(python_type)
        if type(value) is not base or value not in values:
            raise mismatch(python_type, value, f"not one of {_quoted(values)}")
        return value

    def to_literal(
        self, ctx: TypeContext, value: Any, python_type: Any, expected: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        base, _ = self._base(python_type)
        return self.engine.to_literal(ctx, self._check(value, python_type), base)

    def to_python_value(self, ctx: TypeContext, literal: literals_pb2.Literal, python_type: Any) -> Any:
        base, values = self._base(python_type)
        value = self.engine.to_python_value(ctx, literal, base)
        if value not in values:
            raise literal_mismatch(python_type, literal, f"not one of {_quoted(values)}")
        return value

    def guess_python_type(self, literal_type: types_pb2.LiteralType) -> Any | None:
        if (
            literal_type.WhichOneof("type") != "simple"
            or _LITERAL_VALUES not in literal_type.annotation.annotations
        ):
            return None
        base = _SIMPLE_LITERAL.get(literal_type.simple)
        if base is None:
            return None
        values = from_struct(literal_type.annotation.annotations)[_LITERAL_VALUES]
        # Struct numbers are floats; integer literals' values were whole numbers.
        allowed = tuple(int(v) if base is int else v for v in values)
        return typing.Literal[allowed]

    def to_struct_data(self, ctx: TypeContext, value: Any, python_type: Any) -> Any:
        return self._check(value, python_type)

    def from_struct_data(self, ctx: TypeContext, data: Any, python_type: Any) -> Any:
        base, values = self._base(python_type)
        value = self.engine.from_struct_data(ctx, data, base)
        if value not in values:
            raise data_mismatch(python_type, data, f"not one of {_quoted(values)}")
        return value

    def json_schema(self, python_type: Any) -> dict[str, Any]:
        _, values = self._base(python_type)
        return {"enum": list(values)}
