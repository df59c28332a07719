"""Transformers of containers: ``list[T]``, ``dict[str, T]``, untyped dicts, and the refusal of tuples.

``list[T]`` is a collection literal and ``dict[str, T]`` a map literal. A dict without element types, or
with keys that are not strings (``dict[int, str]``), is flytekit's untyped dict: a ``STRUCT`` type whose
values are msgpack binaries.
"""

from __future__ import annotations

import typing
from typing import Any

from flyteidl.core import literals_pb2, types_pb2

from roost.types._protos import (
    SIMPLE,
    data_mismatch,
    literal_mismatch,
    msgpack_annotation,
    msgpack_literal,
    simple_type,
)
from roost.types.context import TypeContext
from roost.types.errors import (
    InvalidValueError,
    TypeTransformerError,
    UnsupportedTypeError,
    mismatch,
    short_repr,
    type_name,
)
from roost.types.simple import primitive_field
from roost.types.transformer import TypeTransformer, unwrap_annotated


def _element_type(python_type: Any) -> Any:
    base, _ = unwrap_annotated(python_type)
    args = typing.get_args(base)
    if not args:
        raise UnsupportedTypeError("a list needs an element type, e.g. list[int]", python_type=python_type)
    return args[0]


class ListTransformer(TypeTransformer[list[Any]]):
    """``list[T]`` ↔ a collection of ``T`` literals."""

    def __init__(self) -> None:
        super().__init__("Typed List", list)

    def get_literal_type(self, python_type: Any) -> types_pb2.LiteralType:
        return types_pb2.LiteralType(collection_type=self.engine.to_literal_type(_element_type(python_type)))

    def to_literal(
        self, ctx: TypeContext, value: Any, python_type: Any, expected: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        element_type = _element_type(python_type)
        if type(value) is not list:
            raise mismatch(python_type, value)
        element_expected = expected.collection_type
        # Resolved once: lists can be long.
        element = self.engine.get_transformer(element_type)
        field = primitive_field(element, element_type)
        collection = literals_pb2.LiteralCollection()
        items = collection.literals
        for index, item in enumerate(value):
            if field and type(item) is element_type:  # set in place, as the transformer would
                primitive = items.add().scalar.primitive
                try:
                    setattr(primitive, field, item)
                    continue
                except ValueError:  # an integer out of range: the transformer's error says so
                    del items[-1]
            try:
                items.append(element.to_literal(ctx, item, element_type, element_expected))
            except TypeTransformerError as exc:
                exc.inside(f"[{index}]")
                raise
        return literals_pb2.Literal(collection=collection)

    def to_python_value(self, ctx: TypeContext, literal: literals_pb2.Literal, python_type: Any) -> list[Any]:
        element_type = _element_type(python_type)
        if literal.WhichOneof("value") != "collection":
            raise literal_mismatch(python_type, literal)
        values = []
        read = self.engine.python_reader(element_type)  # looked up once: lists can be long
        for index, item in enumerate(literal.collection.literals):
            try:
                values.append(read(ctx, item))
            except TypeTransformerError as exc:
                exc.inside(f"[{index}]")
                raise
        return values

    def guess_python_type(self, literal_type: types_pb2.LiteralType) -> Any | None:
        if literal_type.WhichOneof("type") != "collection_type":
            return None
        return list[self.engine.guess_python_type(literal_type.collection_type)]  # type: ignore[misc]

    def to_struct_data(self, ctx: TypeContext, value: Any, python_type: Any) -> Any:
        if type(value) is not list:
            raise mismatch(python_type, value)
        base, _ = unwrap_annotated(python_type)
        if not typing.get_args(base):
            return plain_data(value, python_type)
        element_type = _element_type(python_type)
        return [
            _nested(self.engine.to_struct_data, ctx, v, element_type, f"[{i}]") for i, v in enumerate(value)
        ]

    def from_struct_data(self, ctx: TypeContext, data: Any, python_type: Any) -> list[Any]:
        if not isinstance(data, list):
            raise data_mismatch(python_type, data)
        base, _ = unwrap_annotated(python_type)
        if not typing.get_args(base):
            return data
        element_type = _element_type(python_type)
        return [
            _nested(self.engine.from_struct_data, ctx, d, element_type, f"[{i}]") for i, d in enumerate(data)
        ]

    def json_schema(self, python_type: Any) -> dict[str, Any]:
        base, _ = unwrap_annotated(python_type)
        if not typing.get_args(base):
            return {"type": "array"}
        return {"type": "array", "items": self.engine.json_schema(_element_type(python_type))}


def _nested(convert: Any, ctx: TypeContext, value: Any, python_type: Any, step: str) -> Any:
    try:
        return convert(ctx, value, python_type)
    except TypeTransformerError as exc:
        exc.inside(step)
        raise


def _key_value_types(python_type: Any) -> tuple[Any, Any] | None:
    """``(key type, value type)``, or ``None`` for a bare ``dict``."""
    base, _ = unwrap_annotated(python_type)
    args = typing.get_args(base)
    if not args:
        return None
    if len(args) != 2:
        raise UnsupportedTypeError(
            f"{type_name(python_type)} needs a key and a value type", python_type=python_type
        )
    return args[0], args[1]


_PLAIN_SCALARS = (str, int, float, bool, bytes, type(None))


def plain_data(value: Any, python_type: Any, path: str = "") -> Any:
    """Check that an untyped value holds only what msgpack stores as is (dicts, lists, str, numbers, bool,
    bytes, None), naming the first element that does not."""
    if isinstance(value, _PLAIN_SCALARS):
        return value
    if isinstance(value, list):
        for index, item in enumerate(value):
            plain_data(item, python_type, f"{path}[{index}]")
        return value
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str | int | float | bool | bytes):
                raise InvalidValueError(
                    f"{path or 'a'} key {short_repr(key)} of type {type(key).__qualname__} cannot be stored in an "
                    f"untyped {type_name(python_type)}",
                    python_type=python_type,
                    value=key,
                )
            plain_data(item, python_type, f"{path}[{key!r}]")
        return value
    where = f" at {path}" if path else ""
    raise InvalidValueError(
        f"{type(value).__qualname__} ({short_repr(value)}){where} cannot be stored in an untyped "
        f"{type_name(python_type)}: use a typed dict or a dataclass",
        python_type=python_type,
        value=value,
    )


class DictTransformer(TypeTransformer[dict[Any, Any]]):
    """``dict[str, T]`` ↔ a map literal; other dicts ↔ a msgpack ``STRUCT`` (flytekit's untyped dict)."""

    def __init__(self) -> None:
        super().__init__("Typed Dict", dict)

    def get_literal_type(self, python_type: Any) -> types_pb2.LiteralType:
        types_ = _key_value_types(python_type)
        if types_ is not None and types_[0] is str:
            return types_pb2.LiteralType(map_value_type=self.engine.to_literal_type(types_[1]))
        literal_type = simple_type(SIMPLE.STRUCT)
        literal_type.annotation.CopyFrom(msgpack_annotation())
        return literal_type

    def to_literal(
        self, ctx: TypeContext, value: Any, python_type: Any, expected: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        if type(value) is not dict:
            raise mismatch(python_type, value)
        types_ = _key_value_types(python_type)
        if types_ is None or types_[0] is not str:
            return msgpack_literal(self.to_struct_data(ctx, value, python_type))
        value_type = types_[1]
        value_expected = expected.map_value_type
        literal_map = literals_pb2.LiteralMap()
        for key, item in value.items():
            if type(key) is not str:
                raise InvalidValueError(
                    f"expected {type_name(python_type)} but got a key of type {type(key).__qualname__} "
                    f"({short_repr(key)})",
                    python_type=python_type,
                    value=value,
                )
            try:
                literal_map.literals[key].CopyFrom(
                    self.engine.to_literal(ctx, item, value_type, value_expected)
                )
            except TypeTransformerError as exc:
                exc.inside(f"[{key!r}]")
                raise
        return literals_pb2.Literal(map=literal_map)

    def to_python_value(
        self, ctx: TypeContext, literal: literals_pb2.Literal, python_type: Any
    ) -> dict[Any, Any]:
        types_ = _key_value_types(python_type)
        if literal.WhichOneof("value") != "map":
            raise literal_mismatch(python_type, literal)
        if types_ is None or types_[0] is not str:
            raise literal_mismatch(
                python_type, literal, "a map literal needs dict[str, T] to say what its values are"
            )
        values = {}
        for key, item in literal.map.literals.items():
            try:
                values[key] = self.engine.to_python_value(ctx, item, types_[1])
            except TypeTransformerError as exc:
                exc.inside(f"[{key!r}]")
                raise
        return values

    def guess_python_type(self, literal_type: types_pb2.LiteralType) -> Any | None:
        kind = literal_type.WhichOneof("type")
        if kind == "map_value_type":
            return dict[str, self.engine.guess_python_type(literal_type.map_value_type)]  # type: ignore[misc]
        if (
            kind == "simple"
            and literal_type.simple == SIMPLE.STRUCT
            and not literal_type.HasField("metadata")
        ):
            return dict
        return None

    def to_struct_data(self, ctx: TypeContext, value: Any, python_type: Any) -> Any:
        if not isinstance(value, dict):
            raise mismatch(python_type, value)
        types_ = _key_value_types(python_type)
        if types_ is None:
            return plain_data(value, python_type)
        key_type, value_type = types_
        data = {}
        for key, item in value.items():
            step = f"[{key!r}]"
            data[_nested(self.engine.to_struct_data, ctx, key, key_type, step)] = _nested(
                self.engine.to_struct_data, ctx, item, value_type, step
            )
        return data

    def from_struct_data(self, ctx: TypeContext, data: Any, python_type: Any) -> dict[Any, Any]:
        if not isinstance(data, dict):
            raise data_mismatch(python_type, data)
        types_ = _key_value_types(python_type)
        if types_ is None:
            return data
        key_type, value_type = types_
        values = {}
        for key, item in data.items():
            step = f"[{key!r}]"
            values[_nested(self.engine.from_struct_data, ctx, key, key_type, step)] = _nested(
                self.engine.from_struct_data, ctx, item, value_type, step
            )
        return values

    def json_schema(self, python_type: Any) -> dict[str, Any]:
        types_ = _key_value_types(python_type)
        if types_ is None:
            return {"type": "object"}
        return {
            "type": "object",
            "additionalProperties": self.engine.json_schema(types_[1]),
            "propertyNames": self.engine.json_schema(types_[0]),
        }


class TupleTransformer(TypeTransformer[tuple[Any, ...]]):
    """Refuses tuples (and named tuples) as value types, as flytekit does, with a message that says why."""

    def __init__(self) -> None:
        super().__init__("non typed tuple", tuple)

    def _refuse(self, python_type: Any) -> UnsupportedTypeError:
        return UnsupportedTypeError(
            f"{type_name(python_type)} is not a supported value type: use a list[...] or a dataclass "
            "(a task's several outputs are declared by its signature, not by a tuple value)",
            python_type=python_type,
        )

    def get_literal_type(self, python_type: Any) -> types_pb2.LiteralType:
        raise self._refuse(python_type)

    def to_literal(
        self, ctx: TypeContext, value: Any, python_type: Any, expected: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        raise self._refuse(python_type)

    def to_python_value(self, ctx: TypeContext, literal: literals_pb2.Literal, python_type: Any) -> Any:
        raise self._refuse(python_type)

    def json_schema(self, python_type: Any) -> dict[str, Any]:
        raise self._refuse(python_type)
