"""Scalar transformers: round trips, flytekit's literal shapes, strictness and error messages."""

from __future__ import annotations

import datetime
import typing

import msgpack
import numpy as np
import pytest
from flyteidl.core import literals_pb2, types_pb2
from google.protobuf import struct_pb2

from roost.types import InvalidLiteralError, InvalidValueError, TypeContext, TypeEngine

UTC = datetime.UTC
SIMPLE = types_pb2.SimpleType


def _int(value: int) -> literals_pb2.Literal:
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=value)))


def _string(value: str) -> literals_pb2.Literal:
    return literals_pb2.Literal(
        scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(string_value=value))
    )


@pytest.mark.parametrize(
    ("python_type", "value", "simple"),
    [
        (int, 42, SIMPLE.INTEGER),
        (int, -(2**63), SIMPLE.INTEGER),
        (float, 2.5, SIMPLE.FLOAT),
        (str, "héllo", SIMPLE.STRING),
        (str, "", SIMPLE.STRING),
        (bool, False, SIMPLE.BOOLEAN),
        (datetime.timedelta, datetime.timedelta(days=-1, microseconds=7), SIMPLE.DURATION),
        (datetime.date, datetime.date(2000, 2, 29), SIMPLE.DATETIME),
        (type(None), None, SIMPLE.NONE),
        (None, None, SIMPLE.NONE),
    ],
)
def test_round_trip(
    engine: TypeEngine, ctx: TypeContext, python_type: object, value: object, simple: int
) -> None:
    assert engine.to_literal_type(python_type) == types_pb2.LiteralType(simple=simple)
    literal = engine.to_literal(ctx, value, python_type)
    back = engine.to_python_value(ctx, literal, python_type)
    assert back == value
    assert type(back) is type(value)


def test_datetimes_travel_as_utc(engine: TypeEngine, ctx: TypeContext) -> None:
    plus_two = datetime.timezone(datetime.timedelta(hours=2))
    aware = datetime.datetime(2024, 1, 1, 12, 30, 0, 250000, tzinfo=plus_two)
    literal = engine.to_literal(ctx, aware, datetime.datetime)
    assert literal.scalar.primitive.datetime.ToJsonString() == "2024-01-01T10:30:00.250Z"
    back = engine.to_python_value(ctx, literal, datetime.datetime)
    assert back == aware
    assert back.tzinfo == UTC
    naive = datetime.datetime(2024, 1, 1, 12, 30)
    back = engine.to_python_value(ctx, engine.to_literal(ctx, naive, datetime.datetime), datetime.datetime)
    assert back == naive.replace(tzinfo=UTC)


def test_a_date_is_midnight_utc(engine: TypeEngine, ctx: TypeContext) -> None:
    literal = engine.to_literal(ctx, datetime.date(2023, 12, 31), datetime.date)
    assert literal.scalar.primitive.datetime.ToJsonString() == "2023-12-31T00:00:00Z"


def test_other_libraries_numbers_count(engine: TypeEngine, ctx: TypeContext) -> None:
    assert engine.to_literal(ctx, np.int64(5), int) == _int(5)
    assert engine.to_literal(ctx, np.float64(0.5), float).scalar.primitive.float_value == 0.5


def test_floats_read_integers_and_ints_read_whole_floats(engine: TypeEngine, ctx: TypeContext) -> None:
    assert engine.to_python_value(ctx, _int(3), float) == 3.0
    whole = literals_pb2.Literal(
        scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(float_value=3.0))
    )
    assert engine.to_python_value(ctx, whole, int) == 3
    half = literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(float_value=3.5)))
    with pytest.raises(InvalidLiteralError, match=r"^expected int but got a float literal \(3\.5\)$"):
        engine.to_python_value(ctx, half, int)


@pytest.mark.parametrize(
    ("python_type", "value", "message"),
    [
        (int, "7", "expected int but got str ('7')"),
        (int, True, "expected int but got bool (True)"),
        (int, 1.0, "expected int but got float (1.0)"),
        (int, None, "expected int but got None"),
        (float, 1, "expected float but got int (1)"),
        (str, b"x", "expected str but got bytes (b'x')"),
        (bool, 1, "expected bool but got int (1)"),
        (datetime.datetime, "2024-01-01", "expected datetime but got str ('2024-01-01')"),
        (
            datetime.date,
            datetime.datetime(2024, 1, 1),
            "expected date but got datetime (datetime.datetime(2024, 1, 1, 0, 0))",
        ),
        (datetime.timedelta, 3, "expected timedelta but got int (3)"),
        (type(None), 0, "expected None but got int (0)"),
        (int, "x" * 100, f"expected int but got str ('{'x' * 56}...)"),
    ],
)
def test_wrong_values(
    engine: TypeEngine, ctx: TypeContext, python_type: object, value: object, message: str
) -> None:
    with pytest.raises(InvalidValueError) as caught:
        engine.to_literal(ctx, value, python_type)
    assert str(caught.value) == message
    assert caught.value.python_type == python_type
    assert caught.value.value == value


def test_too_big_an_int(engine: TypeEngine, ctx: TypeContext) -> None:
    with pytest.raises(InvalidValueError, match=r"^18446744073709551616 does not fit in a 64-bit integer$"):
        engine.to_literal(ctx, 2**64, int)


@pytest.mark.parametrize(
    ("python_type", "literal", "message"),
    [
        (int, _string("7"), "expected int but got a string literal ('7')"),
        (str, _int(7), "expected str but got an integer literal (7)"),
        (bool, _int(1), "expected bool but got an integer literal (1)"),
        (datetime.datetime, _int(1), "expected datetime but got an integer literal (1)"),
        (datetime.timedelta, _string("1s"), "expected timedelta but got a string literal ('1s')"),
        (type(None), _int(0), "expected None but got an integer literal (0)"),
        (int, literals_pb2.Literal(), "expected int but got an empty literal"),
        (
            str,
            literals_pb2.Literal(
                scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(datetime={"seconds": 86400}))
            ),
            "expected str but got a datetime literal ('1970-01-02T00:00:00Z')",
        ),
        (
            str,
            literals_pb2.Literal(
                scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(duration={"seconds": 90}))
            ),
            "expected str but got a duration literal ('90s')",
        ),
        (
            int,
            literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(boolean=True))),
            "expected int but got a boolean literal (True)",
        ),
        (
            int,
            literals_pb2.Literal(scalar=literals_pb2.Scalar(none_type=literals_pb2.Void())),
            "expected int but got a none literal",
        ),
        (
            int,
            literals_pb2.Literal(
                scalar=literals_pb2.Scalar(structured_dataset=literals_pb2.StructuredDataset(uri="s3://b/d"))
            ),
            "expected int but got a structured dataset literal (s3://b/d)",
        ),
        (
            int,
            literals_pb2.Literal(map=literals_pb2.LiteralMap()),
            "expected int but got a map literal of 0 item(s)",
        ),
        (
            int,
            literals_pb2.Literal(offloaded_metadata={"uri": "/no/such/literal.pb"}),
            "cannot read the offloaded literal at '/no/such/literal.pb': cannot read '/no/such/literal.pb': "
            "No such file or directory",
        ),
        (
            int,
            literals_pb2.Literal(scalar=literals_pb2.Scalar(error=types_pb2.Error(message="boom"))),
            "expected int but got an error literal",
        ),
        (
            int,
            literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=[_int(1)])),
            "expected int but got a collection literal of 1 item(s)",
        ),
    ],
)
def test_wrong_literals(
    engine: TypeEngine, ctx: TypeContext, python_type: object, literal: literals_pb2.Literal, message: str
) -> None:
    with pytest.raises(InvalidLiteralError) as caught:
        engine.to_python_value(ctx, literal, python_type)
    assert str(caught.value) == message
    assert caught.value.value == literal


def test_scalars_read_from_msgpack_and_structs(engine: TypeEngine, ctx: TypeContext) -> None:
    """What Flyte's attribute access on a dataclass hands a task: a msgpack binary or a Struct value."""

    def binary(data: object) -> literals_pb2.Literal:
        packed = literals_pb2.Binary(value=msgpack.packb(data), tag="msgpack")
        return literals_pb2.Literal(scalar=literals_pb2.Scalar(binary=packed))

    assert engine.to_python_value(ctx, binary(5), int) == 5
    assert engine.to_python_value(ctx, binary("2024-01-02T03:04:05"), datetime.datetime) == datetime.datetime(
        2024, 1, 2, 3, 4, 5
    )
    assert engine.to_python_value(ctx, binary(1.5), datetime.timedelta) == datetime.timedelta(seconds=1.5)
    assert engine.to_python_value(ctx, binary([1, 2]), list[int]) == [1, 2]
    with pytest.raises(InvalidLiteralError, match=r"^expected int but got str \('x'\) in struct data$"):
        engine.to_python_value(ctx, binary("x"), int)
    with pytest.raises(InvalidLiteralError, match=r"^expected date but got str \('nope'\) in struct data: "):
        engine.to_python_value(ctx, binary("nope"), datetime.date)
    other = literals_pb2.Literal(
        scalar=literals_pb2.Scalar(binary=literals_pb2.Binary(value=b"{}", tag="json"))
    )
    with pytest.raises(
        InvalidLiteralError,
        match=r"^expected int but got a binary literal \(tag 'json'\): only msgpack binaries can be read$",
    ):
        engine.to_python_value(ctx, other, int)
    struct = struct_pb2.Struct()
    struct.update({"a": 1})
    generic = literals_pb2.Literal(scalar=literals_pb2.Scalar(generic=struct))
    assert engine.to_python_value(ctx, generic, dict[str, int]) == {"a": 1}


def test_literal_values(engine: TypeEngine, ctx: TypeContext) -> None:
    choice = typing.Literal["a", "b"]
    literal_type = engine.to_literal_type(choice)
    assert literal_type.simple == SIMPLE.STRING
    assert list(literal_type.annotation.annotations["literal_values"]) == ["a", "b"]
    assert engine.to_python_value(ctx, engine.to_literal(ctx, "b", choice), choice) == "b"
    assert engine.guess_python_type(literal_type) == choice
    numbers = typing.Literal[1, 2]
    assert engine.guess_python_type(engine.to_literal_type(numbers)) == numbers
    with pytest.raises(
        InvalidValueError, match=r"^expected Literal\['a', 'b'\] but got str \('c'\): not one of 'a', 'b'$"
    ):
        engine.to_literal(ctx, "c", choice)
    with pytest.raises(
        InvalidLiteralError,
        match=r"^expected Literal\['a', 'b'\] but got a string literal \('c'\): not one of 'a', 'b'$",
    ):
        engine.to_python_value(ctx, _string("c"), choice)


def test_literal_values_of_mixed_types(engine: TypeEngine) -> None:
    from roost.types import UnsupportedTypeError

    with pytest.raises(
        UnsupportedTypeError,
        match=r"^Literal\['a', 1\]: a Literal's values must all be str, all int, all float or all bool$",
    ):
        engine.to_literal_type(typing.Literal["a", 1])


@pytest.mark.parametrize(
    ("python_type", "value"),
    [(int, 42), (int, -(2**63)), (float, 2.5), (str, "héllo"), (str, ""), (bool, True), (bool, False)],
)
def test_the_converters_for_many_values_give_what_the_transformers_give(
    engine: TypeEngine, ctx: TypeContext, python_type: type, value: object
) -> None:
    literal = engine.to_literal(ctx, value, python_type)
    filled = literals_pb2.Literal()
    engine.literal_filler(python_type)(ctx, value, filled)
    assert filled == literal
    read = engine.python_reader(python_type)(ctx, literal)
    assert (type(read), read) == (python_type, value)
    listed = engine.to_literal(ctx, [value, value], list[python_type])
    assert list(listed.collection.literals) == [literal, literal]


@pytest.mark.parametrize(
    ("python_type", "value", "message"),
    [
        (int, 2**64, "18446744073709551616 does not fit in a 64-bit integer"),
        (int, True, "expected int but got bool (True)"),
        (float, 3, "expected float but got int (3)"),
        (bool, 1, "expected bool but got int (1)"),
    ],
)
def test_the_converters_for_many_values_leave_other_values_to_the_transformers_errors(
    engine: TypeEngine, ctx: TypeContext, python_type: type, value: object, message: str
) -> None:
    with pytest.raises(InvalidValueError) as caught:
        engine.literal_filler(python_type)(ctx, value, literals_pb2.Literal())
    assert str(caught.value) == message
    with pytest.raises(InvalidValueError) as caught:
        engine.to_literal(ctx, [python_type(), value], list[python_type])
    assert str(caught.value) == f"[1]: {message}"


def test_the_reader_for_many_values_reads_other_literals_through_the_transformer(
    engine: TypeEngine, ctx: TypeContext
) -> None:
    assert engine.python_reader(float)(ctx, _int(3)) == 3.0  # flytekit writes whole floats as integers
    assert (
        engine.python_reader(int)(
            ctx, literals_pb2.Literal(scalar={"binary": {"value": msgpack.packb(5), "tag": "msgpack"}})
        )
        == 5
    )
    with pytest.raises(InvalidLiteralError) as caught:
        engine.python_reader(int)(ctx, _string("7"))
    assert str(caught.value) == "expected int but got a string literal ('7')"
