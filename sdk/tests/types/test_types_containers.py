"""Lists, dicts (typed and untyped), tuples, unions and enums."""

from __future__ import annotations

import enum
import typing
from typing import NamedTuple, Optional, Union

import msgpack
import pytest
from flyteidl.core import literals_pb2, types_pb2

from roost.types import (
    InvalidLiteralError,
    InvalidValueError,
    TypeContext,
    TypeEngine,
    UnsupportedTypeError,
)

SIMPLE = types_pb2.SimpleType


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.Enum):
    LOW = 1


class Empty(enum.Enum):
    pass


class Pair(NamedTuple):
    a: int
    b: int


def _int(value: int) -> literals_pb2.Literal:
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=value)))


def _string(value: str) -> literals_pb2.Literal:
    return literals_pb2.Literal(
        scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(string_value=value))
    )


@pytest.mark.parametrize(
    ("python_type", "value"),
    [
        (list[int], [1, 2, 3]),
        (list[str], []),
        (list[list[float]], [[1.0], [], [2.0]]),
        (typing.List[int], [4]),  # noqa: UP006
        (dict[str, int], {"a": 1, "b": 2}),
        (dict[str, list[Optional[int]]], {"k": [1, None]}),  # noqa: UP045
        (typing.Dict[str, str], {}),  # noqa: UP006
        (dict, {"a": 1, "b": [1.5, "x", None, b"raw"], "c": {"d": True}}),
        (typing.Dict, {"x": 1}),  # noqa: UP006
        (dict[int, str], {1: "one"}),
        (dict[int, Color], {1: Color.RED}),
        (Color, Color.GREEN),
        (list[Color], [Color.RED, Color.GREEN]),
    ],
)
def test_round_trip(engine: TypeEngine, ctx: TypeContext, python_type: object, value: object) -> None:
    literal = engine.to_literal(ctx, value, python_type)
    assert engine.to_python_value(ctx, literal, python_type) == value


def test_literal_shapes(engine: TypeEngine, ctx: TypeContext) -> None:
    assert engine.to_literal_type(list[int]) == types_pb2.LiteralType(
        collection_type=types_pb2.LiteralType(simple=SIMPLE.INTEGER)
    )
    assert engine.to_literal_type(dict[str, str]) == types_pb2.LiteralType(
        map_value_type=types_pb2.LiteralType(simple=SIMPLE.STRING)
    )
    untyped = engine.to_literal_type(dict)
    assert untyped.simple == SIMPLE.STRUCT
    assert dict(untyped.annotation.annotations["cache-key-metadata"]) == {"serialization-format": "msgpack"}
    assert engine.to_literal_type(dict[int, str]) == untyped
    binary = engine.to_literal(ctx, {"a": [1]}, dict).scalar.binary
    assert binary.tag == "msgpack"
    assert msgpack.unpackb(binary.value) == {"a": [1]}
    assert engine.to_literal_type(Color) == types_pb2.LiteralType(
        enum_type=types_pb2.EnumType(values=["red", "green"])
    )
    assert engine.to_literal(ctx, Color.RED, Color) == _string("red")


def test_enum_accepts_its_strings(engine: TypeEngine, ctx: TypeContext) -> None:
    assert engine.to_literal(ctx, "green", Color) == _string("green")
    with pytest.raises(
        InvalidValueError, match=r"^expected Color but got str \('blue'\): not one of 'red', 'green'$"
    ):
        engine.to_literal(ctx, "blue", Color)
    with pytest.raises(InvalidValueError, match=r"^expected Color but got Level \(<Level\.LOW: 1>\)$"):
        engine.to_literal(ctx, Level.LOW, Color)
    with pytest.raises(
        InvalidLiteralError,
        match=r"^expected Color but got a string literal \('blue'\): not one of 'red', 'green'$",
    ):
        engine.to_python_value(ctx, _string("blue"), Color)
    with pytest.raises(InvalidLiteralError, match=r"^expected Color but got an integer literal \(1\)$"):
        engine.to_python_value(ctx, _int(1), Color)


def test_unsupported_enums(engine: TypeEngine) -> None:
    with pytest.raises(
        UnsupportedTypeError,
        match=r"^enum Level has values that are not strings \(1\); only enums of strings are supported$",
    ):
        engine.to_literal_type(Level)
    with pytest.raises(UnsupportedTypeError, match=r"^enum Empty has no members$"):
        engine.to_literal_type(Empty)


def test_list_errors_name_the_element(engine: TypeEngine, ctx: TypeContext) -> None:
    with pytest.raises(InvalidValueError) as caught:
        engine.to_literal(ctx, [[1], [2, "x"]], list[list[int]])
    assert str(caught.value) == "[1][1]: expected int but got str ('x')"
    assert caught.value.path == "[1][1]"
    assert caught.value.reason == "expected int but got str ('x')"
    with pytest.raises(InvalidValueError, match=r"^expected list\[int\] but got tuple \(\(1, 2\)\)$"):
        engine.to_literal(ctx, (1, 2), list[int])
    bad = literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=[_int(1), _string("x")]))
    with pytest.raises(InvalidLiteralError, match=r"^\[1\]: expected int but got a string literal \('x'\)$"):
        engine.to_python_value(ctx, bad, list[int])
    with pytest.raises(InvalidLiteralError, match=r"^expected list\[int\] but got an integer literal \(1\)$"):
        engine.to_python_value(ctx, _int(1), list[int])


def test_a_list_needs_an_element_type(engine: TypeEngine) -> None:
    with pytest.raises(UnsupportedTypeError, match=r"^a list needs an element type, e\.g\. list\[int\]$"):
        engine.to_literal_type(list)


def test_dict_errors(engine: TypeEngine, ctx: TypeContext) -> None:
    with pytest.raises(InvalidValueError, match=r"^\['b'\]: expected int but got str \('2'\)$"):
        engine.to_literal(ctx, {"a": 1, "b": "2"}, dict[str, int])
    with pytest.raises(
        InvalidValueError, match=r"^expected dict\[str, int\] but got a key of type int \(1\)$"
    ):
        engine.to_literal(ctx, {1: 1}, dict[str, int])
    with pytest.raises(InvalidValueError, match=r"^\[1\]: expected str but got int \(2\)$"):
        engine.to_literal(ctx, {1: 2}, dict[int, str])
    with pytest.raises(InvalidValueError, match=r"^expected dict\[str, int\] but got list \(\[\]\)$"):
        engine.to_literal(ctx, [], dict[str, int])
    with pytest.raises(UnsupportedTypeError, match=r"^dict\[str\] needs a key and a value type$"):
        engine.to_literal_type(dict[str])  # type: ignore[misc]
    a_map = engine.to_literal(ctx, {"a": 1}, dict[str, int])
    with pytest.raises(
        InvalidLiteralError,
        match=r"^expected dict but got a map literal of 1 item\(s\): a map literal needs dict\[str, T\] to say what "
        r"its values are$",
    ):
        engine.to_python_value(ctx, a_map, dict)


def test_untyped_dicts_hold_plain_data_only(engine: TypeEngine, ctx: TypeContext) -> None:
    with pytest.raises(
        InvalidValueError,
        match=r"^Color \(<Color\.RED: 'red'>\) at \['a'\]\[0\] cannot be stored in an untyped dict: use a typed dict "
        r"or a dataclass$",
    ):
        engine.to_literal(ctx, {"a": [Color.RED]}, dict)
    with pytest.raises(
        InvalidValueError, match=r"^\['a'\] key \(1, 2\) of type tuple cannot be stored in an untyped dict$"
    ):
        engine.to_literal(ctx, {"a": {(1, 2): 1}}, dict)


@pytest.mark.parametrize("python_type", [tuple, tuple[int, str], typing.Tuple[int], Pair])  # noqa: UP006
def test_tuples_are_refused(engine: TypeEngine, ctx: TypeContext, python_type: object) -> None:
    message = (
        r"is not a supported value type: use a list\[\.\.\.\] or a dataclass \(a task's several outputs are "
        r"declared by its signature, not by a tuple value\)$"
    )
    with pytest.raises(UnsupportedTypeError, match=message):
        engine.to_literal_type(python_type)
    with pytest.raises(UnsupportedTypeError, match=message):
        engine.to_literal(ctx, (1, 2), python_type, types_pb2.LiteralType())
    with pytest.raises(UnsupportedTypeError, match=message):
        engine.to_python_value(ctx, _int(1), python_type)


# -------------------------------------------------------------------------------------------------
# Unions


def test_union_literal_type_is_tagged(engine: TypeEngine) -> None:
    literal_type = engine.to_literal_type(Optional[list[int]])  # noqa: UP045
    variants = literal_type.union_type.variants
    assert [v.structure.tag for v in variants] == ["Typed List", "none"]
    assert variants[0].collection_type.simple == SIMPLE.INTEGER
    assert engine.to_literal_type(int | None) == engine.to_literal_type(Optional[int])  # noqa: UP045


@pytest.mark.parametrize(
    ("python_type", "value", "tag"),
    [
        (Optional[int], None, "none"),  # noqa: UP045
        (Optional[int], 3, "int"),  # noqa: UP045
        (int | str, "x", "str"),
        (Union[int, float], 1.5, "float"),  # noqa: UP007
        (Union[int, bool], True, "bool"),  # noqa: UP007
        (Union[str, Color], "red", "str"),  # noqa: UP007
        (Union[str, Color], Color.RED, "DefaultEnumTransformer"),  # noqa: UP007
        (Optional[list[int]], [1], "Typed List"),  # noqa: UP045
        (Optional[dict[str, int]], {"a": 1}, "Typed Dict"),  # noqa: UP045
    ],
)
def test_union_round_trip(
    engine: TypeEngine, ctx: TypeContext, python_type: object, value: object, tag: str
) -> None:
    literal = engine.to_literal(ctx, value, python_type)
    assert literal.scalar.union.type.structure.tag == tag
    assert engine.to_python_value(ctx, literal, python_type) == value


def test_union_reads_plain_literals(engine: TypeEngine, ctx: TypeContext) -> None:
    assert engine.to_python_value(ctx, _int(4), Optional[int]) == 4  # noqa: UP045
    none = literals_pb2.Literal(scalar=literals_pb2.Scalar(none_type=literals_pb2.Void()))
    assert engine.to_python_value(ctx, none, Optional[int]) is None  # noqa: UP045


def test_union_write_errors(engine: TypeEngine, ctx: TypeContext) -> None:
    with pytest.raises(InvalidValueError, match=r"^expected int \| str but got float \(1\.5\)$"):
        engine.to_literal(ctx, 1.5, int | str)
    with pytest.raises(
        InvalidValueError,
        match=r"^expected list\[int\] \| None but got list \(\[1, 'x'\]\): as list\[int\]: \[1\]: "
        r"expected int but got str \('x'\)$",
    ):
        engine.to_literal(ctx, [1, "x"], Optional[list[int]])  # noqa: UP045
    with pytest.raises(
        InvalidValueError,
        match=r"^dict\[str, int\] \| dict\[str, float\] is ambiguous for dict: it fits "
        r"dict\[str, int\], dict\[str, float\]$",
    ):
        engine.to_literal(ctx, {}, Union[dict[str, int], dict[str, float]])  # noqa: UP007


def test_union_read_errors(engine: TypeEngine, ctx: TypeContext) -> None:
    tagged = engine.to_literal(ctx, 3, Optional[int])  # noqa: UP045
    with pytest.raises(
        InvalidLiteralError,
        match=r"^expected str \| None but got a union literal \(variant 'int'\): no variant has the tag 'int' and "
        r"its type$",
    ):
        engine.to_python_value(ctx, tagged, Optional[str])  # noqa: UP045
    with pytest.raises(
        InvalidLiteralError,
        match=r"^expected str \| None but got an integer literal \(7\): as str: expected str but got an integer "
        r"literal \(7\); as None: expected None but got an integer literal \(7\)$",
    ):
        engine.to_python_value(ctx, _int(7), Optional[str])  # noqa: UP045
    empty_list = literals_pb2.Literal(collection=literals_pb2.LiteralCollection())
    with pytest.raises(
        InvalidLiteralError,
        match=r"^list\[int\] \| list\[str\] is ambiguous for this literal: it can be read as list\[int\], list\[str\]$",
    ):
        engine.to_python_value(ctx, empty_list, Union[list[int], list[str]])  # noqa: UP007
    untagged = literals_pb2.Literal()
    untagged.CopyFrom(tagged)
    untagged.scalar.union.type.ClearField("structure")
    assert engine.to_python_value(ctx, untagged, Optional[int]) == 3  # noqa: UP045


def test_guessing_container_types(engine: TypeEngine) -> None:
    for python_type in (list[int], dict[str, float], Optional[str], list[dict[str, bool]], dict):  # noqa: UP045
        assert engine.guess_python_type(engine.to_literal_type(python_type)) == python_type
    guessed = engine.guess_python_type(engine.to_literal_type(Color))
    assert [m.value for m in guessed] == ["red", "green"]
