"""Trino result pages as parquet: Trino's column types as arrow types, rows through the trino client's mappers."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
from trino.mapper import RowMapper, RowMapperFactory

__all__ = ["ConversionError", "arrow_schema", "check_declared", "page_parquet"]


class ConversionError(ValueError):
    """A value of the result does not convert to the column's type; the message names the column."""


def _arrow_type(signature: dict[str, Any]) -> pa.DataType:
    raw = signature["rawType"]
    args = signature.get("arguments", [])
    simple = {
        "boolean": pa.bool_(),
        "tinyint": pa.int8(),
        "smallint": pa.int16(),
        "integer": pa.int32(),
        "bigint": pa.int64(),
        "real": pa.float32(),
        "double": pa.float64(),
        "varbinary": pa.binary(),
        "date": pa.date32(),
        "interval day to second": pa.duration("us"),
    }
    if raw in simple:
        return simple[raw]
    if raw == "decimal":
        precision, scale = int(args[0]["value"]), int(args[1]["value"])
        return pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(precision, scale)
    if raw == "time":
        return pa.time64("us")
    if raw == "timestamp":
        return pa.timestamp("us")
    if raw == "timestamp with time zone":
        return pa.timestamp("us", tz="UTC")
    if raw == "array":
        return pa.list_(_arrow_type(args[0]["value"]))
    if raw == "map":
        return pa.map_(_arrow_type(args[0]["value"]), _arrow_type(args[1]["value"]))
    if raw == "row":
        return pa.struct(
            [
                pa.field(
                    arg["value"].get("fieldName", {}).get("name") or f"field{i}",
                    _arrow_type(arg["value"]["typeSignature"]),
                )
                for i, arg in enumerate(args)
            ]
        )
    # varchar, char, json, uuid, ipaddress, interval year to month and anything newer: their text
    return pa.string()


def arrow_schema(columns: Sequence[dict[str, Any]]) -> pa.Schema:
    """The arrow schema of a Trino result's ``columns``."""
    return pa.schema([pa.field(c["name"], _arrow_type(c["typeSignature"])) for c in columns])


def _as_text(value: Any) -> Any:
    return value if value is None or isinstance(value, str) else str(value)


def page_parquet(columns: Sequence[dict[str, Any]], rows: Sequence[Sequence[Any]]) -> bytes:
    """One result page (rows as Trino sent them, JSON values) as a parquet file."""
    schema = arrow_schema(columns)
    row_mapper = RowMapperFactory().create(columns=list(columns), legacy_primitive_types=False)
    assert isinstance(row_mapper, RowMapper)  # what the client makes when legacy types are off
    mappers = row_mapper.columns
    arrays = []
    for index, field in enumerate(schema):
        trino_type = columns[index].get("type", columns[index]["typeSignature"]["rawType"])
        try:
            values = [mappers[index].map(row[index]) for row in rows]
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise ConversionError(
                f"column {field.name!r} of Trino type {trino_type} holds a value the trino client cannot "
                f"read: {type(exc).__name__}: {exc}"
            ) from None
        if pa.types.is_string(field.type):
            values = [_as_text(v) for v in values]
        elif pa.types.is_struct(field.type):
            names = [f.name for f in field.type]
            values = [None if v is None else dict(zip(names, v, strict=True)) for v in values]
        elif pa.types.is_map(field.type):
            values = [None if v is None else list(v.items()) for v in values]
        try:
            arrays.append(pa.array(values, type=field.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
            raise ConversionError(
                f"column {field.name!r} of Trino type {trino_type} does not convert to arrow {field.type}: {exc}"
            ) from None
    table = pa.Table.from_arrays(arrays, schema=schema)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


_FITS: dict[int, frozenset[str]] = {
    1: frozenset({"tinyint", "smallint", "integer", "bigint"}),  # INTEGER
    2: frozenset({"tinyint", "smallint", "integer", "bigint", "real", "double", "decimal"}),  # FLOAT
    3: frozenset({"varchar", "char", "json", "uuid", "ipaddress"}),  # STRING
    4: frozenset({"boolean"}),  # BOOLEAN
    5: frozenset({"timestamp", "timestamp with time zone", "date"}),  # DATETIME
    6: frozenset({"interval day to second"}),  # DURATION
}
"""The Trino types whose values each Flyte simple type (``SimpleType`` numbers) can hold."""


def check_declared(
    declared: Sequence[tuple[str, int | None]], columns: Sequence[tuple[str, str]]
) -> str | None:
    """Why a result with ``columns`` (name, Trino raw type) is not the declared dataset type (column name, Flyte
    simple type or None for another type), or None when it is."""
    found = dict(columns)
    for name, simple in declared:
        if name not in found:
            return f"the declared column {name!r} is not in the result (its columns: {', '.join(found) or 'none'})"
        if simple is None:
            continue
        fits = _FITS.get(simple)
        if fits is not None and found[name] not in fits:
            return f"column {name!r} is declared {_SIMPLE_NAMES[simple]} but Trino returns {found[name]}"
    return None


_SIMPLE_NAMES = {1: "int", 2: "float", 3: "str", 4: "bool", 5: "datetime", 6: "timedelta"}
