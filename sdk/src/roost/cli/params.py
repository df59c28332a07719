"""Command-line values: parsing ``--x 3`` into the Python type an input declares, and printing outputs."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import re
import types
import typing
from pathlib import Path
from typing import Any

import click

_DURATION = re.compile(r"^(?:(?P<h>\d+(?:\.\d+)?)h)?(?:(?P<m>\d+(?:\.\d+)?)m)?(?:(?P<s>\d+(?:\.\d+)?)s)?$")


class InputParseError(ValueError):
    """A command-line value does not parse as the input's type; the message names the input and the type."""


def type_label(python_type: Any) -> str:
    """How ``--help`` shows a type: ``int``, ``list[int]``, ``int | None``."""
    from roost.types.errors import type_name

    return type_name(python_type)


def _is_union(python_type: Any) -> bool:
    return typing.get_origin(python_type) is typing.Union or isinstance(python_type, types.UnionType)


def parse_value(text: str, python_type: Any, *, what: str) -> Any:
    """``text`` as a value of ``python_type``; JSON for lists, dicts and dataclasses."""
    try:
        return _parse(text, python_type)
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        raise InputParseError(f"{what} expects {type_label(python_type)}, got {text!r}: {exc}") from None


def _parse(text: str, python_type: Any) -> Any:
    if typing.get_origin(python_type) is typing.Annotated:
        return _parse(text, typing.get_args(python_type)[0])
    if _is_union(python_type):
        variants = typing.get_args(python_type)
        if text.lower() in ("none", "null") and type(None) in variants:
            return None
        errors = []
        for variant in variants:
            if variant is type(None):
                continue
            try:
                return _parse(text, variant)
            except (ValueError, TypeError, json.JSONDecodeError) as exc:
                errors.append(str(exc))
        raise ValueError("; ".join(errors))
    if python_type is bool:
        lowered = text.strip().lower()
        if lowered in ("true", "yes", "1", "y"):
            return True
        if lowered in ("false", "no", "0", "n"):
            return False
        raise ValueError("not a boolean (true/false)")
    if python_type in (int, float, str):
        return python_type(text)
    if python_type is datetime.datetime:
        return datetime.datetime.fromisoformat(text)
    if python_type is datetime.date:
        return datetime.date.fromisoformat(text)
    if python_type is datetime.timedelta:
        return _duration(text)
    if isinstance(python_type, type) and issubclass(python_type, enum.Enum):
        for member in python_type:
            if text in (member.value, member.name):
                return member
        raise ValueError(f"not one of {', '.join(str(m.value) for m in python_type)}")
    if isinstance(python_type, type) and python_type.__name__ in ("File", "Directory"):
        return python_type(str(Path(text).resolve()) if "://" not in text else text)
    data = json.loads(text)
    return _from_json(data, python_type)


def _duration(text: str) -> datetime.timedelta:
    try:
        return datetime.timedelta(seconds=float(text))
    except ValueError:
        pass
    match = _DURATION.match(text.strip())
    if not match or not any(match.groupdict().values()):
        raise ValueError("not a duration (seconds, or like 1h30m, 90s)")
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    return datetime.timedelta(hours=parts.get("h", 0), minutes=parts.get("m", 0), seconds=parts.get("s", 0))


def _from_json(data: Any, python_type: Any) -> Any:
    origin = typing.get_origin(python_type)
    args = typing.get_args(python_type)
    if origin is list:
        if not isinstance(data, list):
            raise TypeError("expected a JSON list")
        return [_from_json(item, args[0]) for item in data]
    if origin is dict:
        if not isinstance(data, dict):
            raise TypeError("expected a JSON object")
        return {key: _from_json(value, args[1]) for key, value in data.items()}
    if dataclasses.is_dataclass(python_type) and isinstance(python_type, type):
        if not isinstance(data, dict):
            raise TypeError("expected a JSON object")
        hints = typing.get_type_hints(python_type)
        return python_type(**{k: _from_json(v, hints[k]) for k, v in data.items()})
    if hasattr(python_type, "model_validate"):
        return python_type.model_validate(data)
    if isinstance(data, str) and python_type is not str:
        return _parse(data, python_type)
    if python_type in (int, float) and isinstance(data, (int, float)) and not isinstance(data, bool):
        return python_type(data)
    if python_type is typing.Any or (isinstance(python_type, type) and isinstance(data, python_type)):
        return data
    raise TypeError(f"expected {type_label(python_type)}")


def to_json(value: Any) -> Any:
    """A JSON-able form of an output value (files as paths, data frames as records, dataclasses as objects)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if hasattr(value, "model_dump"):
        return to_json(value.model_dump())
    if hasattr(value, "to_dict") and type(value).__module__.startswith("pandas"):
        return to_json(value.to_dict(orient="records"))
    if hasattr(value, "tolist"):
        return value.tolist()
    path = getattr(value, "path", None)
    if path is not None:
        return str(path)
    return repr(value)


def default_text(value: Any) -> str:
    """A default as ``--help`` shows it, in the form the option accepts."""
    if isinstance(value, datetime.timedelta):
        return f"{value.total_seconds():g}s"
    if isinstance(value, str):
        return value
    if isinstance(value, enum.Enum):
        return str(value.value)
    return json.dumps(to_json(value))


class TypedParam(click.ParamType):  # type: ignore[type-arg] # generic only in newer click
    """A click parameter type that parses with :func:`parse_value`, so errors name the input and its type."""

    def __init__(self, python_type: Any, input_name: str) -> None:
        self.python_type = python_type
        self.input_name = input_name
        self.name = type_label(python_type)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Parse a string; values that are already Python (defaults) pass through."""
        if not isinstance(value, str):
            return value
        try:
            return parse_value(value, self.python_type, what=f"input {self.input_name!r}")
        except InputParseError as exc:
            self.fail(str(exc), param, ctx)
