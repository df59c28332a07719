"""The test server's SQL side: Trino SQL translated by sqlglot, run on DuckDB, results encoded as Trino does.

Trino's statements that are about the session rather than data (``PREPARE``, ``EXECUTE``, ``EXECUTE IMMEDIATE``,
``DEALLOCATE PREPARE``) are handled here too; parameters are bound into the parsed statement as Trino binds
them (the ``?`` placeholders replaced by the ``USING`` values, in order), never by pasting text.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import decimal
import math
import re
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["Catalogs", "Outcome", "TrinoError", "run_statement"]


@dataclasses.dataclass(frozen=True)
class TrinoError(Exception):
    """A query failure as Trino reports it (``errorName``, ``errorCode``, ``errorType``)."""

    name: str
    code: int
    type: str
    message: str

    def __str__(self) -> str:
        return f"{self.name}: {self.message}"

    def payload(self, query_id: str) -> dict[str, Any]:
        """The ``error`` object of a query result, as Trino's coordinator writes it."""
        return {
            "message": self.message,
            "errorCode": self.code,
            "errorName": self.name,
            "errorType": self.type,
            "failureInfo": {
                "type": "io.trino.spi.TrinoException",
                "message": self.message,
                "suppressed": [],
                "stack": [],
            },
            "errorLocation": {"lineNumber": 1, "columnNumber": 1},
        }


def user_error(name: str, code: int, message: str) -> TrinoError:
    """A USER_ERROR: the query is wrong (syntax, a missing table or column, a bad cast)."""
    return TrinoError(name, code, "USER_ERROR", message)


def internal_error(message: str) -> TrinoError:
    """GENERIC_INTERNAL_ERROR: the server failed, not the query."""
    return TrinoError("GENERIC_INTERNAL_ERROR", 65536, "INTERNAL_ERROR", message)


USER_CANCELED = user_error("USER_CANCELED", 3, "Query was canceled")


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What a statement produced: columns (Trino's ``columns`` objects) and rows as JSON values, or an update."""

    columns: list[dict[str, Any]] | None = None
    rows: list[list[Any]] = dataclasses.field(default_factory=list)
    update_type: str | None = None
    added_prepare: tuple[str, str] | None = None
    deallocated_prepare: str | None = None


class Catalogs:
    """One DuckDB database behind every Trino catalog: each catalog an attached in-memory database, each
    Trino schema a DuckDB schema in it. ``memory.default`` always exists."""

    def __init__(self, catalogs: Sequence[str] = ("memory",)) -> None:
        import duckdb

        self._db = duckdb.connect(":memory:")
        self._lock = threading.Lock()
        self.names = tuple(dict.fromkeys(["memory", *catalogs]))
        for name in self.names:
            if name != "memory":
                self._db.execute(f"ATTACH ':memory:' AS {_ident(name)}")
            self._db.execute(f"CREATE SCHEMA IF NOT EXISTS {_ident(name)}.default")

    def cursor(self) -> Any:
        """A DuckDB connection of its own to the shared database (DuckDB cursors are per thread)."""
        with self._lock:
            return self._db.cursor()

    def close(self) -> None:
        """Close the database."""
        self._db.close()


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_PREPARE = re.compile(r"^\s*PREPARE\s+(?P<name>\w+)\s+FROM\s+(?P<sql>.+?)\s*;?\s*$", re.I | re.S)
_EXECUTE_IMMEDIATE = re.compile(
    r"^\s*EXECUTE\s+IMMEDIATE\s+'(?P<sql>(?:[^']|'')*)'\s*(?:USING\s+(?P<using>.+?))?\s*;?\s*$", re.I | re.S
)
_EXECUTE = re.compile(r"^\s*EXECUTE\s+(?P<name>\w+)\s*(?:USING\s+(?P<using>.+?))?\s*;?\s*$", re.I | re.S)
_DEALLOCATE = re.compile(r"^\s*DEALLOCATE\s+PREPARE\s+(?P<name>\w+)\s*;?\s*$", re.I | re.S)


def run_statement(
    catalogs: Catalogs,
    sql: str,
    *,
    catalog: str | None,
    schema: str | None,
    prepared: Mapping[str, str],
    cancelled: Callable[[], bool] = lambda: False,
) -> Outcome:
    """Run one Trino statement; raises :class:`TrinoError` as Trino would fail the query."""
    if match := _PREPARE.match(sql):
        _parse(match["sql"])  # Trino checks the statement's syntax when it is prepared
        return Outcome(update_type="PREPARE", added_prepare=(match["name"], match["sql"]))
    if match := _DEALLOCATE.match(sql):
        if match["name"] not in prepared:
            raise user_error("NOT_FOUND", 5, f"Prepared statement not found: {match['name']}")
        return Outcome(update_type="DEALLOCATE", deallocated_prepare=match["name"])
    parameters: list[Any] = []
    if match := _EXECUTE_IMMEDIATE.match(sql):
        text = match["sql"].replace("''", "'")
        parameters = _parameters(match["using"])
    elif match := _EXECUTE.match(sql):
        name = match["name"]
        if name not in prepared:
            raise user_error("NOT_FOUND", 5, f"Prepared statement not found: {name}")
        text = prepared[name]
        parameters = _parameters(match["using"])
    else:
        text = sql
    tree = _bind(text, parameters)
    return _run(catalogs, tree, catalog=catalog, schema=schema, cancelled=cancelled)


def _parse(sql: str) -> Any:
    import sqlglot
    from sqlglot.errors import ParseError, TokenError

    try:
        statements = [s for s in sqlglot.parse(sql, read="trino") if s is not None]
    except (ParseError, TokenError) as exc:
        first = str(exc).splitlines()[0]
        raise user_error("SYNTAX_ERROR", 1, f"line 1:1: {first}") from None
    if len(statements) != 1:
        raise user_error("SYNTAX_ERROR", 1, "line 1:1: mismatched input ';'. Expecting: <EOF>")
    return statements[0]


def _parameters(using: str | None) -> list[Any]:
    if not using:
        return []
    return list(_parse(f"SELECT {using}").expressions)


def _bind(sql: str, parameters: list[Any]) -> Any:
    """The statement parsed, its ``?`` placeholders replaced by the parameters in the order they appear."""
    import sqlglot
    from sqlglot import TokenType, exp
    from sqlglot.errors import TokenError

    try:
        tokens = sqlglot.Dialect.get_or_raise("trino").tokenize(sql)
    except TokenError as exc:
        raise user_error("SYNTAX_ERROR", 1, f"line 1:1: {str(exc).splitlines()[0]}") from None
    positions = [t.start for t in tokens if t.token_type == TokenType.PLACEHOLDER]
    if len(positions) != len(parameters):
        raise user_error(
            "GENERIC_USER_ERROR",
            0,
            f"Incorrect number of parameters: expected {len(positions)} but found {len(parameters)}",
        )
    # Numbered placeholders keep each parameter tied to its position, whatever order the tree lists them in.
    for number, start in reversed(list(enumerate(positions))):
        sql = f"{sql[:start]}:roost_p{number}{sql[start + 1 :]}"
    tree = _parse(sql)
    for placeholder in list(tree.find_all(exp.Placeholder)):
        name = placeholder.name
        if name.startswith("roost_p"):
            placeholder.replace(parameters[int(name.removeprefix("roost_p"))].copy())
    return tree


def _run(
    catalogs: Catalogs, tree: Any, *, catalog: str | None, schema: str | None, cancelled: Callable[[], bool]
) -> Outcome:
    import duckdb

    con = catalogs.cursor()
    try:
        if catalog is not None:
            if catalog not in catalogs.names:
                raise user_error("CATALOG_NOT_FOUND", 44, f"Catalog '{catalog}' not found")
            if schema is not None:
                found = con.execute(
                    "SELECT 1 FROM information_schema.schemata WHERE catalog_name = ? AND schema_name = ?",
                    [catalog, schema],
                ).fetchall()
                if not found:
                    raise user_error("SCHEMA_NOT_FOUND", 45, f"Schema '{schema}' does not exist")
                con.execute(f"USE {_ident(catalog)}.{_ident(schema)}")
            else:
                con.execute(f"USE {_ident(catalog)}")
        duck_sql = tree.sql(dialect="duckdb")
        try:
            relation = con.sql(duck_sql)
            if relation is None:
                return Outcome(update_type=_update_type(tree))
            names = list(relation.columns)
            types = list(relation.types)
            rows = relation.fetchall()
        except duckdb.Error as exc:
            raise _translate_error(exc, catalog, schema) from None
        if cancelled():
            raise USER_CANCELED
        columns = [_column(name, t) for name, t in zip(names, types, strict=True)]
        encoders = [_encoder(t) for t in types]
        encoded = [[enc(v) for enc, v in zip(encoders, row, strict=True)] for row in rows]
        return Outcome(columns=columns, rows=encoded)
    finally:
        con.close()


def _update_type(tree: Any) -> str:
    from sqlglot import exp

    kinds: list[tuple[type[Any], str]] = [
        (exp.Create, "CREATE TABLE"),
        (exp.Insert, "INSERT"),
        (exp.Delete, "DELETE"),
        (exp.Update, "UPDATE"),
        (exp.Drop, "DROP TABLE"),
    ]
    for kind, name in kinds:
        if isinstance(tree, kind):
            if isinstance(tree, exp.Create) and str(tree.args.get("kind", "")).upper() == "SCHEMA":
                return "CREATE SCHEMA"
            return name
    return type(tree).__name__.upper()


_MISSING_TABLE = re.compile(r"Table with name (?P<name>[\w.\"]+) does not exist", re.I)
_MISSING_COLUMN = re.compile(r'Referenced column "?(?P<name>[^"\s]+)"? not found', re.I)
_MISSING_FUNCTION = re.compile(r"Function with name (?P<name>\w+) does not exist", re.I)


def _translate_error(exc: Exception, catalog: str | None, schema: str | None) -> TrinoError:
    """DuckDB's failure as the Trino error a coordinator would return for the same query."""
    import duckdb

    text = str(exc).split("\n")[0]
    if match := _MISSING_TABLE.search(text):
        name = match["name"].replace('"', "")
        parts = name.split(".")
        qualified = ".".join([*[p for p in (catalog, schema) if p][: 3 - len(parts)], *parts])
        return user_error("TABLE_NOT_FOUND", 46, f"line 1:1: Table '{qualified}' does not exist")
    if match := _MISSING_COLUMN.search(text):
        return user_error("COLUMN_NOT_FOUND", 47, f"line 1:1: Column '{match['name']}' cannot be resolved")
    if match := _MISSING_FUNCTION.search(text):
        return user_error("FUNCTION_NOT_FOUND", 6, f"line 1:1: Function '{match['name']}' not registered")
    if isinstance(exc, duckdb.ConversionException):
        return user_error("INVALID_CAST_ARGUMENT", 9, text.removeprefix("Conversion Error: "))
    if isinstance(exc, duckdb.ParserException):
        return user_error("SYNTAX_ERROR", 1, f"line 1:1: {text}")
    if isinstance(exc, (duckdb.CatalogException, duckdb.BinderException, duckdb.ConstraintException)):
        return user_error("GENERIC_USER_ERROR", 0, text)
    if isinstance(exc, (duckdb.InvalidInputException, duckdb.NotImplementedException)):
        return user_error("NOT_SUPPORTED", 13, text)
    return internal_error(text)


# Trino's column types for DuckDB's, and how Trino encodes their values in JSON.


def _long(value: int) -> dict[str, Any]:
    return {"kind": "LONG", "value": value}


def _signature(t: Any) -> dict[str, Any]:
    kind = t.id
    simple = {
        "boolean": "boolean",
        "tinyint": "tinyint",
        "smallint": "smallint",
        "integer": "integer",
        "bigint": "bigint",
        "utinyint": "smallint",
        "usmallint": "integer",
        "uinteger": "bigint",
        "float": "real",
        "double": "double",
        "date": "date",
        "uuid": "uuid",
        "blob": "varbinary",
    }
    if kind in simple:
        return {"rawType": simple[kind], "arguments": []}
    if kind in ("hugeint", "ubigint", "uhugeint"):
        return {"rawType": "decimal", "arguments": [_long(38), _long(0)]}
    if kind == "decimal":
        children = dict(t.children)
        return {
            "rawType": "decimal",
            "arguments": [_long(int(children["precision"])), _long(int(children["scale"]))],
        }
    if kind == "time":
        return {"rawType": "time", "arguments": [_long(6)]}
    if kind in ("timestamp", "timestamp_ms", "timestamp_s", "timestamp_ns"):
        precision = {"timestamp_ms": 3, "timestamp_s": 0}.get(kind, 6)
        return {"rawType": "timestamp", "arguments": [_long(precision)]}
    if kind == "timestamp with time zone":
        return {"rawType": "timestamp with time zone", "arguments": [_long(6)]}
    if kind == "interval":
        return {"rawType": "interval day to second", "arguments": []}
    if kind in {"list", "array"}:
        child = dict(t.children)["child"]
        return {"rawType": "array", "arguments": [{"kind": "TYPE", "value": _signature(child)}]}
    if kind == "map":
        children = dict(t.children)
        return {
            "rawType": "map",
            "arguments": [
                {"kind": "TYPE", "value": _signature(children["key"])},
                {"kind": "TYPE", "value": _signature(children["value"])},
            ],
        }
    if kind == "struct":
        return {
            "rawType": "row",
            "arguments": [
                {
                    "kind": "NAMED_TYPE",
                    "value": {"fieldName": {"name": name}, "typeSignature": _signature(child)},
                }
                for name, child in t.children
            ],
        }
    if kind == "json":
        return {"rawType": "json", "arguments": []}
    return {"rawType": "varchar", "arguments": [_long(2147483647)]}


def _type_name(signature: dict[str, Any]) -> str:
    raw = signature["rawType"]
    args = signature["arguments"]
    if raw == "varchar":
        return "varchar"
    if not args:
        return str(raw)
    if raw == "row":
        fields = [
            f"{a['value']['fieldName']['name']} {_type_name(a['value']['typeSignature'])}" for a in args
        ]
        return f"row({', '.join(fields)})"
    parts = [str(a["value"]) if a["kind"] == "LONG" else _type_name(a["value"]) for a in args]
    if raw == "timestamp with time zone":
        return f"timestamp({parts[0]}) with time zone"
    return f"{raw}({', '.join(parts)})"


def _column(name: str, t: Any) -> dict[str, Any]:
    signature = _signature(t)
    return {"name": name, "type": _type_name(signature), "typeSignature": signature}


def _encoder(t: Any) -> Callable[[Any], Any]:
    raw = _signature(t)["rawType"]
    kind = t.id

    def encode(value: Any) -> Any:
        if value is None:
            return None
        if raw in ("real", "double"):
            if math.isnan(value):
                return "NaN"
            if math.isinf(value):
                return "Infinity" if value > 0 else "-Infinity"
            return value
        if raw == "decimal":
            return str(decimal.Decimal(value))
        if raw == "varbinary":
            return base64.b64encode(value).decode()
        if raw == "date":
            return value.isoformat()
        if raw == "time":
            return value.strftime("%H:%M:%S.%f")
        if raw == "timestamp":
            text = value.strftime("%Y-%m-%d %H:%M:%S.%f")
            return text[:-3] if kind == "timestamp_ms" else text
        if raw == "timestamp with time zone":
            return value.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
        if raw == "interval day to second":
            return _interval(value)
        if raw == "uuid":
            return str(value)
        if raw == "array":
            child = _encoder(dict(t.children)["child"])
            return [child(v) for v in value]
        if raw == "map":
            children = dict(t.children)
            key, val = _encoder(children["key"]), _encoder(children["value"])
            return {str(key(k)): val(v) for k, v in value.items()}
        if raw == "row":
            fields = [(name, _encoder(child)) for name, child in t.children]
            return [enc(value[name]) for name, enc in fields]
        if raw == "varchar" and not isinstance(value, str):
            return str(value)
        if isinstance(value, uuid.UUID):
            return str(value)
        return value

    return encode


def _interval(value: datetime.timedelta) -> str:
    total = value.total_seconds()
    sign = "-" if total < 0 else ""
    total = abs(total)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{sign}{int(days)} {int(hours):02d}:{int(minutes):02d}:{seconds:06.3f}"
