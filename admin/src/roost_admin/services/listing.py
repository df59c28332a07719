"""List requests as flyteadmin reads them: filters, sort keys and token pagination.

Filters are flyteadmin's expressions joined by ``+``: ``eq(name,train)+gte(created_at,2026-01-01T00:00:00Z)``,
with ``eq ne gt gte lt lte contains value_in value_not_in`` (the last two take ``;``-separated values). Fields
may carry an entity prefix (``execution.phase``). A token is the offset of the next page, as flyteadmin's
tokens are; the next token is empty when there is no next page.

A listing that can seek (executions) hands out keyset tokens instead: ``~`` and the last row's sort values,
so the next page starts where the last ended through an index rather than counting past every earlier row.
Clients treat tokens as opaque; numeric offset tokens (from clients that made them up, or from an older
server) are still accepted.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flyteidl.admin import common_pb2
from sqlalchemy import DateTime, Select, and_, not_, tuple_
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from roost_admin.errors import InvalidArgument

MAX_LIMIT = 10_000
MAX_OFFSET = 2**31 - 1
"""The largest offset a page token may hold (tokens are offsets; no list is anywhere near this long)."""
_FILTER = re.compile(r"^(?P<function>[a-z_]+)\((?P<field>[^,]+),\s?(?P<value>.*)\)$")
_FUNCTIONS = ("eq", "ne", "gt", "gte", "lt", "lte", "contains", "value_in", "value_not_in")


def parse_int(text: str) -> int:
    """A filter's whole number (a state, a retry attempt), within the 32-bit range the columns hold."""
    digits = text.strip()
    unsigned = digits.removeprefix("-")
    if not unsigned.isascii() or not unsigned.isdigit():
        raise ValueError(f"{text!r} is not a whole number")
    value = int(digits)
    if not -(2**31) <= value < 2**31:
        raise ValueError(f"{text!r} is out of range")
    return value


def parse_number(text: str) -> float:
    """A filter's finite number (a duration in seconds)."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a finite number")
    return value


def parse_time(text: str) -> datetime.datetime:
    """An RFC 3339 timestamp, as filters on ``created_at`` and friends carry."""
    try:
        value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidArgument(f"timestamp {text!r} must be RFC 3339 (2026-01-31T12:00:00Z)") from None
    return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)


@dataclass(frozen=True)
class Field:
    """A filterable or sortable field: its column, and how a filter's text becomes a column value."""

    column: Any
    parse: Callable[[str], Any] = str


@dataclass(frozen=True)
class Filter:
    """One parsed filter expression."""

    function: str
    field: str
    values: tuple[str, ...]


def parse_filters(text: str) -> list[Filter]:
    """Split and check a filter string; errors name the expression at fault."""
    filters: list[Filter] = []
    for expression in (e.strip() for e in text.split("+") if e.strip()):
        match = _FILTER.match(expression)
        if match is None:
            raise InvalidArgument(f"filter {expression!r} is not of the form function(field,value)")
        function = match["function"]
        if function not in _FUNCTIONS:
            raise InvalidArgument(
                f"filter {expression!r}: unknown function {function!r}; known: {', '.join(_FUNCTIONS)}"
            )
        values = (
            tuple(match["value"].split(";"))
            if function in ("value_in", "value_not_in")
            else (match["value"],)
        )
        filters.append(Filter(function, match["field"].strip(), values))
    return filters


@dataclass(frozen=True)
class Seek:
    """How a listing pages by keyset: the columns its default order ends in (the last one unique, so every row
    has its own position), the sort keys whose columns hold no NULLs (a seek past NULLs would skip rows), and
    whether the default order is descending."""

    tiebreak: tuple[Any, ...]
    keys: frozenset[str]
    descending: bool = True


class Listing:
    """How one kind of entity is listed: its fields, its default order, and whether it pages by keyset."""

    def __init__(
        self, what: str, fields: Mapping[str, Field], default_sort: Sequence[Any], *, seek: Seek | None = None
    ) -> None:
        self.what = what
        self.fields = dict(fields)
        self.default_sort = list(default_sort)
        self.seek = seek

    def _field(self, name: str, purpose: str) -> Field:
        found = self.fields.get(name)
        if found is None:
            known = ", ".join(sorted(self.fields))
            raise InvalidArgument(f"{self.what} cannot be {purpose} by {name!r}; fields: {known}")
        return found

    def where(self, filters: str) -> list[ColumnElement[bool]]:
        """The SQL conditions of a filter string."""
        conditions: list[ColumnElement[bool]] = []
        for item in parse_filters(filters):
            field = self._field(item.field, "filtered")
            try:
                values = [field.parse(v) for v in item.values]
            except (ValueError, KeyError) as exc:
                raise InvalidArgument(f"filter {item.function}({item.field},...): bad value: {exc}") from None
            column, value = field.column, values[0]
            condition: ColumnElement[bool]
            if item.function == "eq":
                condition = column == value
            elif item.function == "ne":
                condition = column != value
            elif item.function == "gt":
                condition = column > value
            elif item.function == "gte":
                condition = column >= value
            elif item.function == "lt":
                condition = column < value
            elif item.function == "lte":
                condition = column <= value
            elif item.function == "contains":
                condition = column.contains(value, autoescape=True)
            elif item.function == "value_in":
                condition = column.in_(values)
            else:
                condition = not_(column.in_(values))
            conditions.append(condition)
        return conditions

    def order(self, sort: common_pb2.Sort | None) -> list[Any]:
        """The ORDER BY of a sort key (ties broken by the default order, so pages are stable)."""
        if sort is None or not sort.key:
            return self.default_sort
        column = self._field(sort.key, "sorted").column
        first = column.asc() if sort.direction == common_pb2.Sort.ASCENDING else column.desc()
        return [first, *self.default_sort]

    def page(
        self, query: Select[Any], *, filters: str, sort: common_pb2.Sort | None, limit: int, token: str
    ) -> tuple[Select[Any], int, int]:
        """``query`` filtered, ordered and cut to one page (one row more than ``limit``, to see if there is a
        next page); also returns the offset and the limit."""
        if limit <= 0 or limit > MAX_LIMIT:
            raise InvalidArgument(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
        offset = _offset(token)
        conditions = self.where(filters)
        if conditions:
            query = query.where(and_(*conditions))
        return query.order_by(*self.order(sort)).offset(offset).limit(limit + 1), offset, limit

    def cut(
        self, query: Select[Any], *, filters: str, sort: common_pb2.Sort | None, limit: int, token: str
    ) -> tuple[Select[Any], Cut]:
        """Like :meth:`page`, but for a listing that seeks (see :class:`Seek`) when the sort allows: ``query``
        cut to one page, and the :class:`Cut` that makes the next page's token from the rows. The order is the
        sort key, then the tiebreak columns, all in the sort's direction, so that one row comparison finds where
        the next page starts (and an index on the columns serves both)."""
        seek = self.seek
        if seek is None or (sort is not None and sort.key and sort.key not in seek.keys):
            if token.startswith(_SEEK):
                raise InvalidArgument(
                    f"token {token!r} was given for another sort order; ask for the first page again"
                )
            paged, offset, limit = self.page(query, filters=filters, sort=sort, limit=limit, token=token)
            return paged, Cut(offset, limit, ())
        if limit <= 0 or limit > MAX_LIMIT:
            raise InvalidArgument(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
        descending = (
            seek.descending if sort is None or not sort.key else sort.direction != common_pb2.Sort.ASCENDING
        )
        columns = [self._field(sort.key, "sorted").column] if sort is not None and sort.key else []
        columns += [c for c in seek.tiebreak if all(c is not seen for seen in columns)]
        conditions = self.where(filters)
        offset = 0
        if token.startswith(_SEEK):
            values = _position(token, columns, descending)
            conditions.append(
                tuple_(*columns) < tuple_(*values) if descending else tuple_(*columns) > tuple_(*values)
            )
        else:
            offset = _offset(token)
        if conditions:
            query = query.where(and_(*conditions))
        order = [c.desc() if descending else c.asc() for c in columns]
        return query.order_by(*order).offset(offset).limit(limit + 1), Cut(
            offset, limit, tuple(columns), descending
        )


@dataclass(frozen=True)
class Cut:
    """Where a page was cut: its offset and limit, and for a keyset page the order's columns."""

    offset: int
    limit: int
    columns: tuple[Any, ...]
    descending: bool = True

    def rows(self, rows: Sequence[Any]) -> tuple[list[Any], str]:
        """The page's rows (objects with the columns as attributes) and the next page's token."""
        if not self.columns:
            return next_token(rows, self.offset, self.limit)
        if len(rows) <= self.limit:
            return list(rows), ""
        kept = list(rows[: self.limit])
        last = kept[-1]
        values = [_plain(getattr(last, column.key)) for column in self.columns]
        position = [_order_name(self.columns, self.descending), *values]
        text = json.dumps(position, separators=(",", ":")).encode()
        return kept, _SEEK + base64.urlsafe_b64encode(text).decode().rstrip("=")


_SEEK = "~"
"""What keyset tokens start with (offset tokens are digits, so the two never mix)."""


def _order_name(columns: Sequence[Any], descending: bool) -> str:
    return ",".join(column.key for column in columns) + (" desc" if descending else " asc")


def _plain(value: Any) -> Any:
    """A sort value as JSON holds it (timestamps as RFC 3339 in UTC; SQLite gives them back without a zone)."""
    if isinstance(value, datetime.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=datetime.UTC)).isoformat()
    return value


def _position(token: str, columns: Sequence[Any], descending: bool) -> list[Any]:
    """The sort values a keyset token holds, checked against the order of this request."""
    refused = InvalidArgument(f"token {token!r} is not one this server gave out")
    body = token[len(_SEEK) :]
    try:
        position = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (ValueError, binascii.Error):
        raise refused from None
    if not isinstance(position, list) or not position or not isinstance(position[0], str):
        raise refused
    if position[0] != _order_name(columns, descending):
        raise InvalidArgument(
            f"token {token!r} was given for a list sorted by {position[0]!r}, not "
            f"{_order_name(columns, descending)!r}; ask for the first page again"
        )
    if len(position) != len(columns) + 1:
        raise refused
    values: list[Any] = []
    for column, value in zip(columns, position[1:], strict=True):
        if isinstance(column.type, DateTime):
            if not isinstance(value, str):
                raise refused
            try:
                values.append(parse_time(value))
            except InvalidArgument:
                raise refused from None
            continue
        kind = column.type.python_type
        if isinstance(value, bool) or not isinstance(value, int | float if kind is float else kind):
            raise refused
        # what the databases cannot compare with (and so would fail on, not refuse) is no token of ours
        if isinstance(value, int) and not -(2**63) <= value < 2**63:
            raise refused
        if (isinstance(value, float) and not math.isfinite(value)) or (
            isinstance(value, str) and "\x00" in value
        ):
            raise refused
        values.append(value)
    return values


def _offset(token: str) -> int:
    """The offset a page token holds (tokens are the decimal offsets :func:`next_token` gives out)."""
    if not token:
        return 0
    if (
        not token.isascii()
        or not token.isdigit()
        or len(token) > len(str(MAX_OFFSET))
        or int(token) > MAX_OFFSET
    ):
        raise InvalidArgument(f"token {token!r} is not one this server gave out")
    return int(token)


def next_token(rows: Sequence[Any], offset: int, limit: int) -> tuple[list[Any], str]:
    """The page's rows and the token of the next page ("" when this is the last)."""
    if len(rows) > limit:
        return list(rows[:limit]), str(offset + limit)
    return list(rows), ""


def rows_page(session: Session, listing: Listing, query: Select[Any], request: Any) -> tuple[list[Any], str]:
    """One page of ``query``'s rows (scalars) for a list request (``filters``, ``sort_by``, ``limit``,
    ``token``), and the next page's token."""
    sort = request.sort_by if request.HasField("sort_by") else None
    paged, cut = listing.cut(
        query, filters=request.filters, sort=sort, limit=request.limit, token=request.token
    )
    return cut.rows(session.scalars(paged).all())


def enum_parser(values: Any) -> Callable[[str], int]:
    """A filter value parser for a flyteidl enum: a name (``SUCCEEDED``) or its number."""

    def parse(text: str) -> int:
        text = text.strip()
        if text.isascii() and text.isdigit() and int(text) in values.values():
            return int(text)
        try:
            return int(values.Value(text.upper()))
        except ValueError:
            raise ValueError(f"{text!r} is not one of {', '.join(values.keys())}") from None

    return parse


def prefixed(entity: str, fields: dict[str, Field]) -> dict[str, Field]:
    """Each field under its own name and with flyteadmin's entity prefix (``execution.phase``)."""
    return {**fields, **{f"{entity}.{name}": field for name, field in fields.items()}}
