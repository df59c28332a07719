"""Flyte's type rules: castability (the cases of propeller's typing tests), descriptions, inference
of a literal's type, and value checks."""

from __future__ import annotations

import datetime

import pytest
from flyteidl.core import literals_pb2, types_pb2
from type_builders import (
    BOOL,
    DATETIME,
    DURATION,
    FLOAT,
    INT,
    NONE,
    STR,
    STRUCT,
    blob,
    dataset,
    dict_of,
    enum,
    list_of,
    literal,
    object_schema,
    optional,
    schema,
    struct,
    tagged,
    union,
)

from roost_core import literal_types
from roost_core.literal_types import can_cast, describe, literal_matches, literal_type_of

COLUMN = types_pb2.SchemaType.SchemaColumn.SchemaColumnType

A_SCHEMA = object_schema("A", ["a"], a={"type": "integer"})
B_CHILD_OF_A = object_schema(
    "B",
    ["a", "b"],
    a={"type": "integer"},
    b={"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
)
B_HOLDS_A = object_schema("B", ["b"], b=A_SCHEMA)
D_HOLDS_C = object_schema("D", ["d"], d=object_schema("C", ["c"], c={"type": "string"}))
PYDANTIC_OUTER = {
    "title": "Outer",
    "type": "object",
    "required": ["inner"],
    "properties": {"inner": {"$ref": "#/$defs/Inner"}},
    "$defs": {
        "Inner": {
            "title": "Inner",
            "type": "object",
            "required": ["x"],
            "properties": {"x": {"type": "integer"}},
        }
    },
}
PYDANTIC_OTHER = {
    "title": "Outer",
    "type": "object",
    "required": ["inner"],
    "properties": {"inner": {"$ref": "#/$defs/Inner"}},
    "$defs": {
        "Inner": {
            "title": "Inner",
            "type": "object",
            "required": ["x"],
            "properties": {"x": {"type": "string"}},
        }
    },
}

CASTS = [
    # simple types match exactly
    ("int to int", INT, INT, True),
    ("int to float", INT, FLOAT, False),
    ("float to int", FLOAT, INT, False),
    ("none to int", NONE, INT, False),
    ("str to bool", STR, BOOL, False),
    ("datetime to datetime", DATETIME, DATETIME, True),
    ("duration to datetime", DURATION, DATETIME, False),
    (
        "metadata is ignored",
        types_pb2.LiteralType(simple=INT.simple, metadata=struct({"a": 1}).metadata),
        INT,
        True,
    ),
    ("upstream tag must match", tagged(INT, "int"), tagged(INT, "other"), False),
    ("no upstream tag: downstream tag ignored", INT, tagged(INT, "int"), True),
    # enums
    ("enum to str", enum("x", "y"), STR, True),
    ("str to enum", STR, enum("x", "y"), True),
    ("enum to same enum", enum("x", "y"), enum("x", "y"), True),
    ("enum to enum holding its values", enum("x"), enum("y", "x"), True),
    ("enum to enum missing a value", enum("x", "y"), enum("x"), False),
    ("enum to other enum", enum("x", "y"), enum("m", "n"), False),
    ("enum to int", enum("x"), INT, False),
    # unions
    ("str to (int | str)", STR, union(tagged(INT, "int"), tagged(STR, "str")), True),
    ("str to (str | str) is ambiguous", STR, union(tagged(STR, "a"), tagged(STR, "b")), False),
    ("float to (int | str)", FLOAT, union(INT, STR), False),
    ("none to Optional[int]", NONE, optional(INT), True),
    ("int to Optional[int]", INT, optional(INT), True),
    ("list to Optional[list]", list_of(INT), optional(list_of(INT)), True),
    (
        "union to superset union",
        union(tagged(STR, "s1"), tagged(STR, "s2")),
        union(tagged(STR, "s1"), tagged(INT, "i"), tagged(STR, "s2")),
        True,
    ),
    (
        "union tag mismatch",
        union(tagged(STR, "s1"), tagged(STR, "s2")),
        union(tagged(INT, "s2"), tagged(STR, "s3")),
        False,
    ),
    ("union type mismatch", union(tagged(STR, "t")), union(tagged(INT, "t")), False),
    ("single-variant union to its type", union(tagged(STR, "string")), tagged(STR, "string"), True),
    ("union to plain type", union(INT, STR), INT, False),
    ("Optional[int] to int", optional(INT), INT, False),
    # collections
    ("list[int] to list[int]", list_of(INT), list_of(INT), True),
    ("empty list to list[int]", list_of(NONE), list_of(INT), True),
    ("list[int] to list[float]", list_of(INT), list_of(FLOAT), False),
    ("list[int] to int", list_of(INT), INT, False),
    ("list[int] to list[list[int]]", list_of(INT), list_of(list_of(INT)), False),
    ("none to list[list[int]]", NONE, list_of(list_of(INT)), False),
    ("list[enum] to list[str]", list_of(enum("a")), list_of(STR), True),
    # maps
    ("dict[int] to dict[int]", dict_of(INT), dict_of(INT), True),
    ("dict[int] to dict[float]", dict_of(INT), dict_of(FLOAT), False),
    ("empty dict to dict[float]", dict_of(NONE), dict_of(FLOAT), True),
    ("dict[int] to int", dict_of(INT), INT, False),
    ("dict[int] to dict[dict[int]]", dict_of(INT), dict_of(dict_of(INT)), False),
    ("dict to list", dict_of(INT), list_of(INT), False),
    # blobs
    ("generic blob to generic blob", blob(), blob(), True),
    ("csv blob to generic blob", blob("csv"), blob(), True),
    ("generic blob to csv blob", blob(), blob("csv"), True),
    ("csv blob to pdf blob", blob("csv"), blob("pdf"), False),
    ("none to blob", NONE, blob(), False),
    (
        "file to directory (dimensionality not compared)",
        blob("csv"),
        blob("csv", multipart=True),
        True,
    ),
    ("blob to str", blob("csv"), STR, False),
    # structured datasets
    ("generic dataset", dataset(), dataset(), True),
    ("generic to typed dataset", dataset(), dataset(a=INT, b=list_of(INT)), True),
    ("typed to generic dataset", dataset(a=INT, b=list_of(INT)), dataset(), True),
    (
        "superset to subset columns",
        dataset(a=INT, b=list_of(INT), c=dict_of(INT)),
        dataset(a=INT, b=list_of(INT)),
        True,
    ),
    (
        "subset to superset columns",
        dataset(a=INT, b=list_of(INT)),
        dataset(a=INT, b=list_of(INT), c=dict_of(INT)),
        False,
    ),
    ("mismatched column types", dataset(a=INT, b=list_of(INT)), dataset(a=FLOAT), False),
    ("mismatched column types flipped", dataset(a=FLOAT), dataset(a=INT, b=list_of(INT)), False),
    ("parquet to generic format", dataset("parquet"), dataset(), True),
    ("generic to parquet format", dataset(), dataset("parquet"), True),
    ("format case ignored", dataset("Parquet"), dataset("parquet"), True),
    ("parquet to csv", dataset("parquet"), dataset("csv"), False),
    ("datasets are nullable", NONE, dataset(), True),
    ("schema to dataset", schema(a=COLUMN.INTEGER), dataset(a=INT), True),
    ("schema to dataset, mismatched column", schema(a=COLUMN.INTEGER), dataset(a=FLOAT), False),
    ("schema to csv dataset", schema(a=COLUMN.INTEGER), dataset("csv"), False),
    # legacy schemas
    ("generic schema", schema(), schema(), True),
    ("generic to typed schema", schema(), schema(a=COLUMN.INTEGER), True),
    (
        "superset to subset schema",
        schema(a=COLUMN.INTEGER, b=COLUMN.FLOAT),
        schema(a=COLUMN.INTEGER),
        True,
    ),
    (
        "subset to superset schema",
        schema(a=COLUMN.INTEGER),
        schema(a=COLUMN.INTEGER, b=COLUMN.FLOAT),
        False,
    ),
    ("mismatched schema columns", schema(a=COLUMN.INTEGER), schema(a=COLUMN.FLOAT), False),
    ("dataset to schema", dataset(a=INT, b=FLOAT), schema(a=COLUMN.INTEGER), True),
    ("csv dataset to schema", dataset("csv"), schema(), False),
    ("schemas are not nullable", NONE, schema(), False),
    # STRUCT
    ("struct to struct", STRUCT, STRUCT, True),
    ("struct without schema to dataclass", STRUCT, struct(A_SCHEMA), True),
    ("dataclass to same dataclass", struct(A_SCHEMA), struct(A_SCHEMA), True),
    ("nested dataclass to same", struct(B_HOLDS_A), struct(B_HOLDS_A), True),
    ("different nested dataclasses", struct(B_HOLDS_A), struct(D_HOLDS_C), False),
    ("child dataclass to parent", struct(B_CHILD_OF_A), struct(A_SCHEMA), True),
    ("parent dataclass to child", struct(A_SCHEMA), struct(B_CHILD_OF_A), False),
    ("pydantic models with $defs", struct(PYDANTIC_OUTER), struct(PYDANTIC_OUTER), True),
    ("pydantic models, field types differ", struct(PYDANTIC_OUTER), struct(PYDANTIC_OTHER), False),
    ("struct to str", STRUCT, STR, False),
    # nothing goes from or to a type without a kind
    ("empty type to int", types_pb2.LiteralType(), INT, False),
    ("int to empty type", INT, types_pb2.LiteralType(), False),
]


@pytest.mark.parametrize(
    ("upstream", "downstream", "expected"), [c[1:] for c in CASTS], ids=[c[0] for c in CASTS]
)
def test_can_cast(upstream: types_pb2.LiteralType, downstream: types_pb2.LiteralType, expected: bool) -> None:
    assert can_cast(upstream, downstream) is expected


def test_json_schema_subtypes_cover_number_items_and_enums() -> None:
    ints = struct(
        {
            "type": "object",
            "properties": {
                "n": {"type": "integer"},
                "xs": {"type": "array", "items": {"type": "integer"}},
            },
        }
    )
    numbers = struct(
        {
            "type": "object",
            "properties": {
                "n": {"type": "number"},
                "xs": {"type": "array", "items": {"type": "number"}},
            },
        }
    )
    assert can_cast(ints, numbers)
    assert not can_cast(numbers, ints)
    narrow = struct({"type": "object", "properties": {"c": {"type": "string", "enum": ["r"]}}})
    wide = struct({"type": "object", "properties": {"c": {"type": "string", "enum": ["r", "g"]}}})
    assert can_cast(narrow, wide)
    assert not can_cast(wide, narrow)


DESCRIPTIONS = [
    (INT, "int"),
    (FLOAT, "float"),
    (STR, "str"),
    (BOOL, "bool"),
    (DATETIME, "datetime"),
    (DURATION, "timedelta"),
    (NONE, "None"),
    (list_of(INT), "list[int]"),
    (dict_of(FLOAT), "dict[str, float]"),
    (optional(INT), "int | None"),
    (list_of(optional(dict_of(STR))), "list[dict[str, str] | None]"),
    (enum("a", "b"), "enum{a,b}"),
    (blob("parquet"), "blob(parquet)"),
    (blob(), "blob"),
    (blob("csv", multipart=True), "blob(csv, multipart)"),
    (dataset("parquet"), "structured_dataset(parquet)"),
    (dataset(), "structured_dataset"),
    (dataset("csv", a=INT), "structured_dataset(csv){a: int}"),
    (schema(a=COLUMN.INTEGER), "schema{a: integer}"),
    (STRUCT, "struct"),
    (struct(A_SCHEMA), "struct(A)"),
    (types_pb2.LiteralType(), "unknown"),
]


@pytest.mark.parametrize(("literal_type", "text"), DESCRIPTIONS, ids=[d[1] for d in DESCRIPTIONS])
def test_describe(literal_type: types_pb2.LiteralType, text: str) -> None:
    assert describe(literal_type) == text


def _blob_literal(fmt: str | None) -> literals_pb2.Literal:
    value = literals_pb2.Blob(uri="s3://b/k")
    if fmt is not None:
        value.metadata.type.format = fmt
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(blob=value))


def _union_literal(value: object, variant: types_pb2.LiteralType) -> literals_pb2.Literal:
    return literals_pb2.Literal(
        scalar=literals_pb2.Scalar(union=literals_pb2.Union(value=literal(value), type=variant))
    )


def _timestamp_literal() -> literals_pb2.Literal:
    primitive = literals_pb2.Primitive()
    primitive.datetime.FromDatetime(datetime.datetime(2024, 1, 2, tzinfo=datetime.UTC))
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=primitive))


INFERRED = [
    ("int", literal(3), INT),
    ("float", literal(2.5), FLOAT),
    ("str", literal("s"), STR),
    ("bool", literal(True), BOOL),
    ("datetime", _timestamp_literal(), DATETIME),
    ("none", literal(None), NONE),
    ("generic struct", literal({"a": 1}), STRUCT),
    ("list of ints", literal([1, 2]), list_of(INT)),
    ("empty list", literal([]), list_of(NONE)),
    ("list of empty lists", literal([[], []]), list_of(list_of(NONE))),
    ("nested list with an empty one", literal([[], [1]]), list_of(list_of(INT))),
    ("map", literal((("a", 1.0), ("b", 2.0))), dict_of(FLOAT)),
    ("mixed list", literal([1, "a"]), list_of(union(INT, STR))),
    ("csv blob", _blob_literal("csv"), blob("csv")),
    ("blob without metadata", _blob_literal(None), types_pb2.LiteralType()),
    ("union value", _union_literal(3, tagged(INT, "int")), union(tagged(INT, "int"))),
    ("empty literal", literals_pb2.Literal(), types_pb2.LiteralType()),
    (
        "msgpack binary",
        literals_pb2.Literal(
            scalar=literals_pb2.Scalar(binary=literals_pb2.Binary(value=b"\x80", tag="msgpack"))
        ),
        STRUCT,
    ),
    (
        "other binary",
        literals_pb2.Literal(scalar=literals_pb2.Scalar(binary=literals_pb2.Binary(value=b"x", tag="raw"))),
        types_pb2.LiteralType(simple=types_pb2.SimpleType.BINARY),
    ),
    (
        "offloaded",
        literals_pb2.Literal(
            offloaded_metadata=literals_pb2.LiteralOffloadedMetadata(uri="s3://x", inferred_type=list_of(INT))
        ),
        list_of(INT),
    ),
]


@pytest.mark.parametrize(("value", "expected"), [i[1:] for i in INFERRED], ids=[i[0] for i in INFERRED])
def test_literal_type_of(value: literals_pb2.Literal, expected: types_pb2.LiteralType) -> None:
    assert literal_type_of(value) == expected


MATCHES = [
    ("int is int", literal(1), INT, True),
    ("int is not float", literal(1), FLOAT, False),
    ("str is not int", literal("1"), INT, False),
    ("none is None", literal(None), NONE, True),
    ("none is not int", literal(None), INT, False),
    ("none fits Optional[int]", literal(None), optional(INT), True),
    ("int fits Optional[int]", literal(1), optional(INT), True),
    ("str does not fit Optional[int]", literal("a"), optional(INT), False),
    (
        "union value of int fits Optional[int]",
        _union_literal(1, tagged(INT, "T")),
        optional(INT),
        True,
    ),
    (
        "union value of str does not fit Optional[int]",
        _union_literal("a", tagged(STR, "str")),
        optional(INT),
        False,
    ),
    ("enum member", literal("red"), enum("red", "green"), True),
    ("not an enum member", literal("blue"), enum("red", "green"), False),
    ("list of ints", literal([1, 2, 3]), list_of(INT), True),
    ("list with a str", literal([1, "2"]), list_of(INT), False),
    ("empty list", literal([]), list_of(STR), True),
    ("nested lists", literal([[1], []]), list_of(list_of(INT)), True),
    ("list is not int", literal([1]), INT, False),
    ("list fits Optional[list[int]]", literal([1]), optional(list_of(INT)), True),
    ("map of floats", literal((("a", 1.0),)), dict_of(FLOAT), True),
    ("map with an int", literal((("a", 1.0), ("b", 2))), dict_of(FLOAT), False),
    ("map is not a list", literal((("a", 1.0),)), list_of(FLOAT), False),
    ("csv blob into csv", _blob_literal("csv"), blob("csv"), True),
    ("csv blob into generic", _blob_literal("csv"), blob(), True),
    ("csv blob into pdf", _blob_literal("csv"), blob("pdf"), False),
    ("generic struct into dataclass", literal({"a": 1}), struct(A_SCHEMA), True),
    ("none into dataset", literal(None), dataset(), True),
    ("anything into an empty type", literal(1), types_pb2.LiteralType(), False),
    ("empty literal", literals_pb2.Literal(), INT, False),
]


@pytest.mark.parametrize(
    ("value", "literal_type", "expected"), [m[1:] for m in MATCHES], ids=[m[0] for m in MATCHES]
)
def test_literal_matches(
    value: literals_pb2.Literal, literal_type: types_pb2.LiteralType, expected: bool
) -> None:
    assert literal_matches(value, literal_type) is expected


@pytest.mark.parametrize(
    ("value", "literal_type"),
    # A value check is finer than castability for enums: the value must be a member.
    [(m[1], m[2]) for m in MATCHES if m[0] != "not an enum member"],
    ids=[m[0] for m in MATCHES if m[0] != "not an enum member"],
)
def test_literal_matches_agrees_with_castability_of_the_inferred_type(
    value: literals_pb2.Literal, literal_type: types_pb2.LiteralType
) -> None:
    assert literal_matches(value, literal_type) is can_cast(literal_type_of(value), literal_type)


def test_public_names() -> None:
    assert set(literal_types.__all__) == {
        "SIMPLE_NAMES",
        "can_cast",
        "describe",
        "literal_type_of",
        "literal_matches",
    }
