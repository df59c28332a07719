"""Command-line values: parsing ``--x 3`` into the Python type an input declares, and printing outputs."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import re
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from flyteidl.core import literals_pb2

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


def value_from_data(data: Any, python_type: Any, *, what: str) -> Any:
    """A value read from a JSON or YAML document (``--inputs-file``) as a value of ``python_type``; strings
    are parsed as on the command line."""
    try:
        return _from_json(data, python_type)
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        raise InputParseError(f"{what} expects {type_label(python_type)}, got {data!r}: {exc}") from None


def _parse(text: str, python_type: Any) -> Any:
    if typing.get_origin(python_type) is typing.Annotated:
        return _parse(text, typing.get_args(python_type)[0])
    if _is_union(python_type):
        return _first_variant(text, python_type, _parse, is_none=text.lower() in ("none", "null"))
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
        return python_type(_path_or_uri(text))
    if isinstance(python_type, type) and python_type.__name__ == "StructuredDataset":
        return python_type(uri=_path_or_uri(text), file_format="csv" if text.endswith(".csv") else "parquet")
    if _is_frame_type(python_type):
        from roost.types.structured import StructuredDataset

        # Stored data, named by its URI (or path), read by the type's decoder in the task.
        return StructuredDataset(uri=_path_or_uri(text), file_format="csv" if text.endswith(".csv") else "")
    data = json.loads(text)
    return _from_json(data, python_type)


def _path_or_uri(text: str) -> str:
    """A URI as it is; a local path made absolute (data named on the command line)."""
    return text if "://" in text else str(Path(text).resolve())


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
    if typing.get_origin(python_type) is typing.Annotated:
        return _from_json(data, typing.get_args(python_type)[0])
    if _is_union(python_type):
        return _first_variant(data, python_type, _from_json, is_none=data is None)
    if python_type is int and isinstance(data, float) and not data.is_integer():
        raise TypeError(f"{data!r} is not a whole number")
    if python_type in (int, float) and isinstance(data, (int, float)) and not isinstance(data, bool):
        return python_type(data)
    if python_type is typing.Any or (isinstance(python_type, type) and isinstance(data, python_type)):
        return data
    raise TypeError(f"expected {type_label(python_type)}")


def _first_variant(value: Any, python_type: Any, convert: Callable[[Any, Any], Any], *, is_none: bool) -> Any:
    """``value`` converted to the first variant of a union that takes it (None when ``is_none`` and the
    union allows None); the errors of every variant otherwise."""
    variants = typing.get_args(python_type)
    if is_none and type(None) in variants:
        return None
    errors = []
    for variant in variants:
        if variant is type(None):
            continue
        try:
            return convert(value, variant)
        except (ValueError, TypeError) as exc:
            errors.append(str(exc))
    raise ValueError("; ".join(errors))


def to_json(value: Any, literal: literals_pb2.Literal | None = None) -> Any:
    """A JSON-able form of an output value: files as paths, structured datasets (data frames) as the URI of
    their data, dataclasses as objects. ``literal``, the value's literal, is where data frames find their URI.
    """
    if literal is not None:
        found = _json_from_literal(value, literal)
        if found is not _NOT_FOUND:
            return found
    return _json_of_value(value)


_NOT_FOUND = object()


def _json_from_literal(value: Any, literal: literals_pb2.Literal) -> Any:
    """The JSON form of a value whose literal says more than the value (data frames): else ``_NOT_FOUND``."""
    kind = literal.WhichOneof("value")
    if kind == "collection" and isinstance(value, (list, tuple)):
        items = literal.collection.literals
        if len(items) == len(value):
            return [to_json(v, item) for v, item in zip(value, items, strict=True)]
    elif kind == "map" and isinstance(value, dict):
        entries = literal.map.literals
        return {str(k): to_json(v, entries.get(str(k))) for k, v in value.items()}
    elif kind == "scalar":
        scalar = literal.scalar
        which = scalar.WhichOneof("value")
        if which == "structured_dataset":
            return scalar.structured_dataset.uri
        if which == "union":
            return to_json(value, scalar.union.value)
        if which == "binary" and scalar.binary.tag == "msgpack":
            import msgpack

            return _json_with_data(value, msgpack.unpackb(scalar.binary.value, strict_map_key=False))
    return _NOT_FOUND


def _json_with_data(value: Any, data: Any) -> Any:
    """The JSON form of a dataclass or model output, with the URIs of its data frames from its msgpack form."""
    if isinstance(data, dict) and isinstance(data.get("uri"), str) and _is_frame(value):
        return data["uri"]
    if dataclasses.is_dataclass(value) and not isinstance(value, type) and isinstance(data, dict):
        return {
            f.name: _json_with_data(getattr(value, f.name), data.get(f.name))
            for f in dataclasses.fields(value)
        }
    if hasattr(value, "model_dump") and isinstance(data, dict):
        return {
            name: _json_with_data(getattr(value, name), data.get(name)) for name in type(value).model_fields
        }
    if isinstance(value, (list, tuple)) and isinstance(data, list) and len(value) == len(data):
        return [_json_with_data(v, d) for v, d in zip(value, data, strict=True)]
    if isinstance(value, dict) and isinstance(data, dict):
        return {str(k): _json_with_data(v, data.get(k)) for k, v in value.items()}
    return _json_of_value(value)


def _is_frame(value: Any) -> bool:
    """A StructuredDataset, or a value of a registered data frame kind."""
    from roost.types.structured import StructuredDataset

    return isinstance(value, StructuredDataset) or _is_frame_type(type(value))


def _is_frame_type(python_type: Any) -> bool:
    """A registered data frame kind (pandas, a plugin's)."""
    from roost.types.engine import default_engine

    return default_engine().datasets.handles(python_type)


def _json_of_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_json_of_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_of_value(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _json_of_value(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if hasattr(value, "model_dump"):
        return _json_of_value(value.model_dump())
    from roost.types.structured import StructuredDataset

    if isinstance(value, StructuredDataset) and value.uri:
        return value.uri
    if hasattr(value, "to_dict") and type(value).__module__.startswith("pandas"):
        return _json_of_value(value.to_dict(orient="records"))
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
