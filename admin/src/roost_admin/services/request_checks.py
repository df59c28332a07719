"""Checks every request gets before its handler runs: values no handler could use, and the size limits.

Generic over the message (a walk of its set fields), so every RPC, including ones added later, is covered:

- an enum field holding a number its enum does not define (proto3 lets any number through);
- a ``Duration`` or ``Timestamp`` outside the range protobuf defines for it (±10,000 years; years 1 to 9999);
- a NUL character in a string (no identifier, filter or name may hold one; the database refuses them);
- a float that is NaN or infinite;
- an unsigned 32-bit number above 2^31 - 1 (counts, attempts and versions are kept in the database's signed
  32-bit integers);
- a string longer than ``max_string_bytes``, a list or map with more than ``max_list_items`` entries, a set of
  inputs (a ``LiteralMap``, ``VariableMap`` or ``ParameterMap``) with more than ``max_inputs``, and literals or
  literal types nested deeper than ``max_literal_depth``.

The values inside a ``Literal`` are the user's data: their strings may hold anything and their floats may be
NaN. Every failure is an :class:`InvalidArgument` naming the field by its path in the request
(``spec.inputs.literals['x'].scalar.primitive.duration``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from roost_admin.errors import InvalidArgument

if TYPE_CHECKING:
    from roost_admin.config import Settings

_LITERAL = "flyteidl.core.Literal"
_LITERAL_TYPE = "flyteidl.core.LiteralType"
_LITERAL_MAP = "flyteidl.core.LiteralMap"
_INPUT_MAPS = frozenset({_LITERAL_MAP, "flyteidl.core.VariableMap", "flyteidl.core.ParameterMap"})
_DURATION = "google.protobuf.Duration"
_TIMESTAMP = "google.protobuf.Timestamp"
_DURATION_SECONDS = 315_576_000_000
"""Protobuf's bound on a Duration's seconds: 10,000 years."""
_TIMESTAMP_SECONDS = (-62_135_596_800, 253_402_300_799)
"""Protobuf's bounds on a Timestamp's seconds: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z."""
_NANOS = 999_999_999
_FLOATS = frozenset({FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT})
_UNSIGNED_32 = frozenset({FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32})
_INT32_MAX = 2**31 - 1


@dataclass(frozen=True)
class RequestLimits:
    """The size limits of a request (see the settings of the same names)."""

    string_bytes: int
    list_items: int
    inputs: int
    literal_depth: int

    @classmethod
    def from_settings(cls, settings: Settings) -> RequestLimits:
        """The limits the admin's settings configure."""
        return cls(
            string_bytes=settings.max_string_bytes,
            list_items=settings.max_list_items,
            inputs=settings.max_inputs,
            literal_depth=settings.max_literal_depth,
        )


def check_request(request: Message, limits: RequestLimits) -> None:
    """Raise InvalidArgument naming the first field of ``request`` that breaks a rule of the module docstring."""
    _Walk(limits).message(request, (), _Nesting())


@dataclass(frozen=True)
class _Nesting:
    """Where the walk is: how many literals and literal types enclose it, and whether it is inside user data."""

    literals: int = 0
    literal_types: int = 0
    in_data: bool = False


def _text(path: tuple[str, ...]) -> str:
    return "".join(path).lstrip(".") or "the request"


class _Walk:
    def __init__(self, limits: RequestLimits) -> None:
        self.limits = limits

    def message(self, message: Message, path: tuple[str, ...], nesting: _Nesting) -> None:
        name = message.DESCRIPTOR.full_name
        if name == _DURATION:
            _check_duration(message, path)
            return
        if name == _TIMESTAMP:
            _check_timestamp(message, path)
            return
        nesting = self._enter(name, path, nesting)
        for field, value in message.ListFields():
            field_path = (*path, "." + field.name)
            inner = nesting
            if field.name == "map" and name == _LITERAL:
                # A map literal is a value (its size is a list's), not a set of inputs.
                inner = _Nesting(nesting.literals, nesting.literal_types, in_data=True)
            if field.message_type is not None and field.message_type.GetOptions().map_entry:
                self.mapping(field, value, field_path, inner, counts_inputs=name in _INPUT_MAPS)
            elif field.is_repeated:
                self.count(len(value), field_path)
                for index, item in enumerate(value):
                    self.value(field, item, (*field_path, f"[{index}]"), inner)
            else:
                self.value(field, value, field_path, inner)

    def _enter(self, name: str, path: tuple[str, ...], nesting: _Nesting) -> _Nesting:
        limit = self.limits.literal_depth
        if name == _LITERAL:
            if nesting.literals >= limit:
                raise InvalidArgument(
                    f"request field '{_text(path)}' nests literals more than {limit} deep "
                    "(setting max_literal_depth)"
                )
            return _Nesting(nesting.literals + 1, nesting.literal_types, in_data=True)
        if name == _LITERAL_TYPE:
            if nesting.literal_types >= limit:
                raise InvalidArgument(
                    f"request field '{_text(path)}' nests types more than {limit} deep (setting max_literal_depth)"
                )
            return _Nesting(nesting.literals, nesting.literal_types + 1, nesting.in_data)
        return nesting

    def mapping(
        self,
        field: FieldDescriptor,
        entries: Any,
        path: tuple[str, ...],
        nesting: _Nesting,
        *,
        counts_inputs: bool,
    ) -> None:
        if counts_inputs and not nesting.in_data and len(entries) > self.limits.inputs:
            raise InvalidArgument(
                f"request field '{_text(path)}' has {len(entries)} entries; the limit is {self.limits.inputs} "
                "(setting max_inputs)"
            )
        self.count(len(entries), path)
        entry = field.message_type
        assert entry is not None  # a map field's entries are messages
        key_field = entry.fields_by_name["key"]
        value_field = entry.fields_by_name["value"]
        for key, item in entries.items():
            entry_path = (*path, f"[{key!r}]")
            self.value(key_field, key, entry_path, nesting)
            self.value(value_field, item, entry_path, nesting)

    def count(self, length: int, path: tuple[str, ...]) -> None:
        if length > self.limits.list_items:
            raise InvalidArgument(
                f"request field '{_text(path)}' has {length} items; the limit is {self.limits.list_items} "
                "(setting max_list_items)"
            )

    def value(self, field: FieldDescriptor, value: Any, path: tuple[str, ...], nesting: _Nesting) -> None:
        kind = field.type
        if kind == FieldDescriptor.TYPE_MESSAGE:
            self.message(value, path, nesting)
        elif kind == FieldDescriptor.TYPE_ENUM:
            _check_enum(field, value, path)
        elif nesting.in_data:
            return
        elif kind == FieldDescriptor.TYPE_STRING:
            self.string(value, path)
        elif kind in _FLOATS and not math.isfinite(value):
            raise InvalidArgument(f"request field '{_text(path)}' must be a finite number, not {value}")
        elif kind in _UNSIGNED_32 and value > _INT32_MAX:
            raise InvalidArgument(
                f"request field '{_text(path)}' is {value}; the largest accepted is {_INT32_MAX}"
            )

    def string(self, value: str, path: tuple[str, ...]) -> None:
        if "\x00" in value:
            raise InvalidArgument(f"request field '{_text(path)}' contains a NUL character")
        limit = self.limits.string_bytes
        # A character is at most 4 bytes in UTF-8: most strings need no encoding to be measured.
        if len(value) * 4 > limit and len(value.encode()) > limit:
            raise InvalidArgument(
                f"request field '{_text(path)}' is {len(value.encode())} bytes long; the limit is {limit} "
                "(setting max_string_bytes)"
            )


def _check_enum(field: FieldDescriptor, value: int, path: tuple[str, ...]) -> None:
    enum = field.enum_type
    assert enum is not None  # an enum field has its enum
    if value not in enum.values_by_number:
        known = ", ".join(v.name for v in enum.values)
        raise InvalidArgument(f"request field '{_text(path)}' has the unknown value {value}; known: {known}")


def _check_duration(duration: Any, path: tuple[str, ...]) -> None:
    seconds, nanos = duration.seconds, duration.nanos
    if (
        abs(seconds) > _DURATION_SECONDS
        or abs(nanos) > _NANOS
        or (seconds > 0 and nanos < 0)
        or (seconds < 0 and nanos > 0)
    ):
        raise InvalidArgument(
            f"request field '{_text(path)}' is not a valid duration (seconds {seconds}, nanos {nanos}): "
            f"at most {_DURATION_SECONDS} seconds (10,000 years) either way, with nanos of the same sign"
        )


def _check_timestamp(stamp: Any, path: tuple[str, ...]) -> None:
    low, high = _TIMESTAMP_SECONDS
    if not low <= stamp.seconds <= high or not 0 <= stamp.nanos <= _NANOS:
        raise InvalidArgument(
            f"request field '{_text(path)}' is not a valid timestamp (seconds {stamp.seconds}, nanos "
            f"{stamp.nanos}): it must lie between 0001-01-01 and 9999-12-31"
        )
