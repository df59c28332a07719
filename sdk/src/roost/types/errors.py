"""Errors and warnings of the type engine.

Every error names what failed and the type that was expected, e.g. ``expected int but got str ('7')``.
Errors raised inside containers carry a path to the offending element (``[2].name``); callers that know
more (the variable name, the task) add it with :meth:`TypeTransformerError.inside` and
:meth:`TypeTransformerError.prefixed`, so the final message reads
``task wf.t1: input xs[2].name: expected int but got str ('7')``.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from roost_core.errors import RoostError

_NO_VALUE: Any = object()
_REPR_LIMIT = 60


class TypeTransformerError(RoostError):
    """A Python type or value could not be converted to or from a flyteidl literal.

    ``reason`` says what failed, ``python_type`` is the expected Python type and ``value`` the value at
    fault (a Python value when writing, a ``Literal`` when reading), where known. ``path`` locates the value
    inside the top-level one (``xs[2].name``) and ``prefix`` is what the caller added in front.
    """

    def __init__(self, reason: str, *, python_type: Any = None, value: Any = _NO_VALUE) -> None:
        super().__init__(reason)
        self.reason = reason
        self.python_type = python_type
        self.value = None if value is _NO_VALUE else value
        self.has_value = value is not _NO_VALUE
        self.path = ""
        self.prefix = ""

    def inside(self, step: str) -> TypeTransformerError:
        """Record that the failing value sits at ``step`` (a name, ``[3]``, ``['key']`` or ``.field``) of an
        outer value; returns the same error, to re-raise."""
        joiner = "" if not self.path or self.path[0] in "[." else "."
        self.path = f"{step}{joiner}{self.path}" if self.path else step
        self.args = (str(self),)
        return self

    def prefixed(self, prefix: str) -> TypeTransformerError:
        """Put ``prefix`` (for example ``task wf.t1: input``) in front of the message; returns the same
        error, to re-raise."""
        self.prefix = f"{prefix} {self.prefix}" if self.prefix else prefix
        self.args = (str(self),)
        return self

    def __str__(self) -> str:
        where = " ".join(part for part in (self.prefix, self.path) if part).rstrip(":")
        return f"{where}: {self.reason}" if where else self.reason


class UnsupportedTypeError(TypeTransformerError):
    """A Python type has no literal type (a bare tuple, a recursive dataclass, a field type a dataclass cannot
    hold, ...)."""


class InvalidValueError(TypeTransformerError):
    """A Python value does not fit the declared type, or cannot be stored (a missing file, an ambiguous
    union)."""

    type_mismatch: bool = False
    """True when the value is simply of another type (as opposed to, say, naming a missing file)."""


class InvalidLiteralError(TypeTransformerError):
    """A literal cannot be read as the requested Python type."""


class VariableError(TypeTransformerError):
    """A map of named values does not match the declared variables (a missing or unexpected name)."""


class RoostTypeWarning(UserWarning):
    """Base class of the type engine's warnings."""


class PickleFallbackWarning(RoostTypeWarning):
    """A type has no transformer, so its values travel pickled: readable only by the same Python and library
    versions."""


def type_name(python_type: Any) -> str:
    """A short readable name for a Python type: ``int``, ``list[int]``, ``int | None``, ``File['csv']``."""
    if python_type is None or python_type is type(None):
        return "None"
    if python_type is typing.Any:
        return "Any"
    if python_type is Ellipsis:
        return "..."
    origin = typing.get_origin(python_type)
    args = typing.get_args(python_type)
    if origin is typing.Annotated:
        return type_name(args[0])
    if origin is typing.Union or isinstance(python_type, types.UnionType):
        return " | ".join(type_name(arg) for arg in args)
    if origin is typing.Literal:
        return f"Literal[{', '.join(repr(arg) for arg in args)}]"
    if origin is not None:
        base = getattr(origin, "__name__", str(origin))
        return f"{base}[{', '.join(type_name(arg) for arg in args)}]" if args else base
    if isinstance(python_type, type):
        return python_type.__qualname__
    if isinstance(python_type, str):
        return python_type
    return repr(python_type).replace("typing.", "")


def short_repr(value: Any) -> str:
    """``repr(value)``, cut to a readable length."""
    try:
        text = repr(value)
    except Exception:  # a broken __repr__ must not hide the real error
        text = f"<{type(value).__qualname__} object>"
    if "\n" in text:  # tables and arrays print on several lines
        text = " ".join(text.split())
    return text if len(text) <= _REPR_LIMIT else text[: _REPR_LIMIT - 3] + "..."


def mismatch(python_type: Any, value: Any, detail: str = "") -> InvalidValueError:
    """``expected <type> but got <value's type> (<value>)``, plus an optional detail."""
    got = "None" if value is None else f"{type(value).__qualname__} ({short_repr(value)})"
    reason = f"expected {type_name(python_type)} but got {got}"
    error = InvalidValueError(
        f"{reason}: {detail}" if detail else reason, python_type=python_type, value=value
    )
    error.type_mismatch = not detail
    return error
