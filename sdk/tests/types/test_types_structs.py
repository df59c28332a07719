"""Dataclasses and pydantic models: flytekit's msgpack encoding, schemas, old JSON literals, errors."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import typing
from pathlib import Path
from typing import Any, Optional

import msgpack
import pydantic
import pytest
from flyteidl.core import literals_pb2, types_pb2
from google.protobuf import json_format, struct_pb2

from roost.types import (
    File,
    InvalidLiteralError,
    InvalidValueError,
    StructuredDataset,
    TypeContext,
    TypeEngine,
    UnsupportedTypeError,
)

SIMPLE = types_pb2.SimpleType


class Color(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int
    y: float = 0.5


@dataclasses.dataclass
class Shape:
    name: str
    points: list[Point]
    color: Color
    when: datetime.datetime
    anchor: Optional[Point] = None  # noqa: UP045
    labels: dict[str, str] = dataclasses.field(default_factory=dict)
    anything: Any = None
    computed: int = dataclasses.field(init=False, default=0)


@dataclasses.dataclass
class Node:
    value: int
    children: list[Node] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class WithFile:
    doc: File
    table: Optional[StructuredDataset] = None  # noqa: UP045


class Opaque:
    pass


@dataclasses.dataclass
class WithOpaque:
    thing: Opaque


@dataclasses.dataclass
class WithTuple:
    pair: tuple[int, int]


class Model(pydantic.BaseModel):
    name: str
    size: int = 1
    tags: list[str] = []


def _binary(data: Any) -> literals_pb2.Literal:
    packed = literals_pb2.Binary(value=msgpack.packb(data), tag="msgpack")
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(binary=packed))


def _shape() -> Shape:
    return Shape(
        name="tri",
        points=[Point(1), Point(2, 2.5)],
        color=Color.RED,
        when=datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC),
        anchor=Point(0, 0.0),
        labels={"k": "v"},
        anything={"free": [1, "form"]},
    )


def test_dataclass_round_trip(engine: TypeEngine, ctx: TypeContext) -> None:
    shape = _shape()
    literal = engine.to_literal(ctx, shape, Shape)
    assert literal.scalar.binary.tag == "msgpack"
    assert msgpack.unpackb(literal.scalar.binary.value) == {
        "name": "tri",
        "points": [{"x": 1, "y": 0.5}, {"x": 2, "y": 2.5}],
        "color": "red",
        "when": "2024-01-01T00:00:00+00:00",
        "anchor": {"x": 0, "y": 0.0},
        "labels": {"k": "v"},
        "anything": {"free": [1, "form"]},
        "computed": 0,
    }
    assert engine.to_python_value(ctx, literal, Shape) == shape


def test_dataclass_literal_type(engine: TypeEngine) -> None:
    literal_type = engine.to_literal_type(Point)
    assert literal_type.simple == SIMPLE.STRUCT
    assert json_format.MessageToDict(literal_type.metadata) == {
        "type": "object",
        "title": "Point",
        "properties": {"x": {"type": "integer"}, "y": {"type": "number", "default": 0.5}},
        "additionalProperties": False,
        "required": ["x"],
    }
    assert dict(literal_type.structure.dataclass_type) == {
        "x": types_pb2.LiteralType(simple=SIMPLE.INTEGER),
        "y": types_pb2.LiteralType(simple=SIMPLE.FLOAT),
    }
    assert dict(literal_type.annotation.annotations["cache-key-metadata"]) == {
        "serialization-format": "msgpack"
    }
    shape_schema = json_format.MessageToDict(engine.to_literal_type(Shape).metadata)
    assert "computed" not in shape_schema["properties"]
    assert shape_schema["properties"]["anything"] == {"default": None}
    assert shape_schema["required"] == ["name", "points", "color", "when"]


def test_old_json_struct_literals_are_read(engine: TypeEngine, ctx: TypeContext) -> None:
    """flytekit before msgpack wrote dataclasses as Structs, where every number is a float."""
    struct = struct_pb2.Struct()
    struct.update({"x": 3, "y": 1})
    literal = literals_pb2.Literal(scalar=literals_pb2.Scalar(generic=struct))
    point = engine.to_python_value(ctx, literal, Point)
    assert point == Point(3, 1.0)
    assert type(point.x) is int


def test_missing_fields_with_defaults_and_extra_keys(engine: TypeEngine, ctx: TypeContext) -> None:
    assert engine.to_python_value(ctx, _binary({"x": 1, "unknown": 2}), Point) == Point(1)
    with pytest.raises(
        InvalidLiteralError,
        match=r"^expected Point but got dict \(\{'y': 1\.0\}\) in struct data: field 'x' is missing$",
    ):
        engine.to_python_value(ctx, _binary({"y": 1.0}), Point)


def test_field_errors_name_the_field(engine: TypeEngine, ctx: TypeContext) -> None:
    shape = _shape()
    shape.points[1].x = "2"  # type: ignore[assignment]
    with pytest.raises(InvalidValueError) as caught:
        engine.to_literal(ctx, shape, Shape)
    assert str(caught.value) == ".points[1].x: expected int but got str ('2')"
    with pytest.raises(InvalidValueError, match=r"^expected Point but got dict \(\{'x': 1\}\)$"):
        engine.to_literal(ctx, {"x": 1}, Point)
    data = {"name": "n", "points": [{"x": "no"}], "color": "red", "when": "2024-01-01T00:00:00"}
    with pytest.raises(
        InvalidLiteralError, match=r"^\.points\[0\]\.x: expected int but got str \('no'\) in struct data$"
    ):
        engine.to_python_value(ctx, _binary(data), Shape)
    with pytest.raises(InvalidLiteralError, match=r"^expected Point but got list \(\[1\]\) in struct data$"):
        engine.to_python_value(ctx, _binary([1]), Point)
    with pytest.raises(InvalidLiteralError, match=r"^expected Point but got an integer literal \(1\)$"):
        engine.to_python_value(
            ctx,
            literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=1))),
            Point,
        )


def test_unsupported_dataclasses(engine: TypeEngine) -> None:
    with pytest.raises(
        UnsupportedTypeError,
        match=r"^\.children: dataclass Node refers to itself; recursive dataclasses are not supported$",
    ):
        engine.to_literal_type(Node)
    with (
        pytest.warns(UserWarning, match="Opaque has no type transformer"),
        pytest.raises(UnsupportedTypeError, match=r"^\.thing: Opaque cannot be a field of a dataclass$"),
    ):
        engine.to_literal_type(WithOpaque)
    with pytest.raises(
        UnsupportedTypeError, match=r"^\.pair: tuple\[int, int\] is not a supported value type"
    ):
        engine.to_literal_type(WithTuple)


def test_unresolvable_field_types(engine: TypeEngine) -> None:
    namespace: dict[str, Any] = {}
    exec("import dataclasses\n@dataclasses.dataclass\nclass Broken:\n    x: 'Missing'\n", namespace)
    with pytest.raises(
        UnsupportedTypeError,
        match=r"^the field types of Broken cannot be resolved: name 'Missing' is not defined$",
    ):
        engine.to_literal_type(namespace["Broken"])


def test_fields_that_are_files_and_datasets(engine: TypeEngine, ctx: TypeContext, tmp_path: Path) -> None:
    import pandas as pd

    source = tmp_path / "doc.txt"
    source.write_text("words")
    value = WithFile(File(source), StructuredDataset(dataframe=pd.DataFrame({"a": [1]})))
    literal = engine.to_literal(ctx, value, WithFile)
    data = msgpack.unpackb(literal.scalar.binary.value)
    assert data["doc"]["path"].startswith(str(tmp_path / "raw"))
    assert data["table"]["file_format"] == "parquet"
    back = engine.to_python_value(ctx, literal, WithFile)
    assert Path(back.doc.download()).read_text() == "words"
    assert back.table.open(pd.DataFrame).all().to_dict("list") == {"a": [1]}
    schema = json_format.MessageToDict(engine.to_literal_type(WithFile).metadata)
    assert schema["properties"]["doc"]["title"] == "FlyteFile"
    assert schema["properties"]["table"]["anyOf"][0]["title"] == "StructuredDataset"


def test_guessing_a_dataclass_from_its_schema(engine: TypeEngine, ctx: TypeContext) -> None:
    guessed = engine.guess_python_type(engine.to_literal_type(Shape))
    assert guessed is engine.guess_python_type(engine.to_literal_type(Shape))
    fields = {f.name: f.type for f in dataclasses.fields(guessed)}
    assert fields["name"] is str
    assert fields["labels"] == dict[str, str]
    point_type = fields["points"].__args__[0]
    assert [f.name for f in dataclasses.fields(point_type)] == ["x", "y"]
    value = engine.to_python_value(ctx, engine.to_literal(ctx, _shape(), Shape), guessed)
    assert value.points[1].y == 2.5
    assert value.color == "red"


def test_pydantic_models(engine: TypeEngine, ctx: TypeContext) -> None:
    model = Model(name="m", size=3, tags=["a"])
    literal_type = engine.to_literal_type(Model)
    assert json_format.MessageToDict(literal_type.metadata) == Model.model_json_schema()
    assert set(literal_type.structure.dataclass_type) == {"name", "size", "tags"}
    literal = engine.to_literal(ctx, model, Model)
    assert msgpack.unpackb(literal.scalar.binary.value) == {"name": "m", "size": 3, "tags": ["a"]}
    assert engine.to_python_value(ctx, literal, Model) == model
    with pytest.raises(InvalidValueError, match=r"^expected Model but got dict \(\{'name': 'm'\}\)$"):
        engine.to_literal(ctx, {"name": "m"}, Model)
    with pytest.raises(
        InvalidLiteralError,
        match=r"^expected Model but got dict \(\{'size': 'big'\}\) in struct data: name: Field required; "
        r"size: Input should be a valid integer, unable to parse string as an integer$",
    ):
        engine.to_python_value(ctx, _binary({"size": "big"}), Model)
    with pytest.raises(InvalidLiteralError, match=r"^expected Model but got a none literal$"):
        engine.to_python_value(
            ctx, literals_pb2.Literal(scalar=literals_pb2.Scalar(none_type=literals_pb2.Void())), Model
        )


class Size(enum.Enum):
    S = "s"
    M = "m"


@dataclasses.dataclass(frozen=True)
class Corner:
    x: int = 0


@dataclasses.dataclass
class Defaults:
    size: Size = Size.M
    mode: typing.Literal["fast", "slow"] = "fast"
    day: datetime.date = datetime.date(2024, 1, 2)
    pause: datetime.timedelta = datetime.timedelta(seconds=90)
    sizes: tuple[str, ...] = ("a",)
    corner: Corner = Corner(3)
    loose: list = dataclasses.field(default_factory=list)
    choice: int | str = 0
    opaque: Any = Opaque()  # noqa: RUF009


def test_field_defaults_in_the_schema(engine: TypeEngine) -> None:
    schema = engine.get_transformer(Defaults)._object_schema  # type: ignore[attr-defined]
    with pytest.raises(
        UnsupportedTypeError, match=r"^\.sizes: tuple\[str, \.\.\.\] is not a supported value type"
    ):
        schema(Defaults)
    engine_schema = engine.json_schema

    @dataclasses.dataclass
    class Typed:
        size: Size = Size.M
        mode: typing.Literal["fast", "slow"] = "fast"
        day: datetime.date = datetime.date(2024, 1, 2)
        pause: datetime.timedelta = datetime.timedelta(seconds=90)
        corner: Corner = Corner(3)
        loose: list = dataclasses.field(default_factory=list)
        choice: int | str = 0
        anything: Any = Opaque()  # noqa: RUF009

    properties = engine_schema(Typed)["properties"]
    assert properties["size"] == {"enum": ["s", "m"], "default": "m"}
    assert properties["mode"] == {"enum": ["fast", "slow"], "default": "fast"}
    assert properties["day"] == {"type": "string", "format": "date", "default": "2024-01-02"}
    assert properties["pause"] == {"type": "number", "format": "time-delta", "default": 90.0}
    assert properties["corner"]["default"] == {"x": 3}
    assert properties["loose"] == {"type": "array"}
    assert properties["choice"] == {"anyOf": [{"type": "integer"}, {"type": "string"}], "default": 0}
    assert properties["anything"] == {}


def test_value_set_and_untyped_fields(engine: TypeEngine, ctx: TypeContext) -> None:
    @dataclasses.dataclass
    class Settings:
        mode: typing.Literal["fast", "slow"]
        size: Size
        extra: list
        pick: int | str

    value = Settings("slow", Size.S, [1, "two", None], "p")
    literal = engine.to_literal(ctx, value, Settings)
    assert msgpack.unpackb(literal.scalar.binary.value) == {
        "mode": "slow",
        "size": "s",
        "extra": [1, "two", None],
        "pick": "p",
    }
    assert engine.to_python_value(ctx, literal, Settings) == value
    with pytest.raises(
        InvalidValueError,
        match=r"^\.mode: expected Literal\['fast', 'slow'\] but got str \('medium'\): not one of",
    ):
        engine.to_literal(ctx, Settings("medium", Size.S, [], 1), Settings)  # type: ignore[arg-type]
    with pytest.raises(
        InvalidValueError, match=r"^\.extra: Opaque \(<.*>\) at \[0\] cannot be stored in an untyped list"
    ):
        engine.to_literal(ctx, Settings("fast", Size.S, [Opaque()], 1), Settings)
    with pytest.raises(InvalidValueError, match=r"^\.pick: expected int \| str but got float \(1\.5\)$"):
        engine.to_literal(ctx, Settings("fast", Size.S, [], 1.5), Settings)  # type: ignore[arg-type]
    data = {"mode": "slow", "size": "xl", "extra": [], "pick": 1}
    with pytest.raises(
        InvalidLiteralError,
        match=r"^\.size: expected Size but got str \('xl'\) in struct data: not one of 's', 'm'$",
    ):
        engine.to_python_value(ctx, _binary(data), Settings)
    data = {"mode": "slow", "size": "s", "extra": [], "pick": 1.5}
    with pytest.raises(
        InvalidLiteralError,
        match=r"^\.pick: expected int \| str but got float \(1\.5\) in struct data: as int: expected int but got "
        r"float \(1\.5\) in struct data; as str: expected str but got float \(1\.5\) in struct data$",
    ):
        engine.to_python_value(ctx, _binary(data), Settings)
    data = {"mode": "other", "size": "s", "extra": [], "pick": 1}
    with pytest.raises(
        InvalidLiteralError,
        match=r"^\.mode: expected Literal\['fast', 'slow'\] but got str \('other'\) in struct data",
    ):
        engine.to_python_value(ctx, _binary(data), Settings)
    assert engine.guess_python_type(types_pb2.LiteralType(simple=SIMPLE.STRUCT)) is dict


def test_missing_libraries_say_which_extra_brings_them(monkeypatch: pytest.MonkeyPatch) -> None:
    from roost.types._optional import load

    monkeypatch.setitem(__import__("sys").modules, "polars", None)
    with pytest.raises(
        ImportError,
        match=r"^polars is needed for this conversion but is not installed: pip install 'roost\[polars\]'$",
    ):
        load("polars")
    with pytest.raises(
        ImportError,
        match=r"^roost_nothing is needed for this conversion but is not installed: pip install roost_nothing$",
    ):
        load("roost_nothing.sub")
