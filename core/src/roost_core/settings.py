"""Typed settings: how every handler and every shared section of the engine configuration is declared.

One approach for all of them: a pydantic v2 model. A handler's settings subclass :class:`HandlerSettings`;
a section that several handlers read (``engine.task_environment``, ``engine.kubernetes``) subclasses
:class:`SharedSettings` and names itself with ``section``. A handler reads a shared section by declaring a
field of that name and type::

    class SparkSettings(HandlerSettings):
        kubernetes: KubernetesSettings = KubernetesSettings()      # engine.kubernetes, then the override
        task_environment: TaskEnvironment = TaskEnvironment()      # engine.task_environment, likewise
        spark_image: str = ""

The engine fills such a field from the shared section and deep-merges the handler's own
``engine.handlers.<name>.<section>`` over it, so every handler can override what it needs. Unknown keys are
errors; every error names the key path and what was expected (:func:`validate_section`).

This module imports pydantic; the engine imports it only when it builds or checks handlers, so
``import roost_core`` and a local run without handler settings stay free of it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, ClassVar, TypeVar, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from roost_core.errors import ConfigurationError, SettingsError

__all__ = [
    "HandlerSettings",
    "Seconds",
    "SharedSettings",
    "TaskEnvironment",
    "deep_merge",
    "shared_fields",
    "validate_section",
]

M = TypeVar("M", bound=BaseModel)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def _duration(value: Any) -> Any:
    """Seconds from a number or a string with a unit (``"90s"``, ``"3m"``, ``"1h"``, ``"250ms"``)."""
    if isinstance(value, bool):
        raise ValueError("expected a duration (seconds, or a string such as '90s' or '3m')")
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise ValueError("expected a duration (seconds, or a string such as '90s' or '3m')")
        return float(match.group(1)) * _UNITS[match.group(2)]
    return value


Seconds = Annotated[float, BeforeValidator(_duration), Field(ge=0)]
"""A duration in seconds >= 0, given as a number or as a string with a unit (``"90s"``, ``"3m"``)."""


class HandlerSettings(BaseModel):
    """The base of a handler's settings: frozen, and unknown keys are errors.

    Document each field with a docstring under it; ``docs/plugins.md`` shows the pattern.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class SharedSettings(HandlerSettings):
    """A section of the engine configuration that several handlers read (``engine.<section>``)."""

    section: ClassVar[str] = ""
    """The section's key under ``engine``, and the name of the field handlers declare to read it."""


class TaskEnvironment(SharedSettings):
    """``engine.task_environment``: what every handler that starts task code gives it.

    Local processes, pods, and whatever Spark, Ray or MPI start: the storage credentials and endpoints a task
    needs to reach the blob store and the admin, and any default variables. A handler may override it under
    ``engine.handlers.<name>.task_environment``.
    """

    section: ClassVar[str] = "task_environment"

    env: dict[str, str] = Field(default_factory=dict)
    """Variables set in every task's environment, after the task's own (so they win)."""
    drop_env: tuple[str, ...] = ()
    """Shell-style patterns (``ROOST_*``) of the engine's own variables that task processes started on this
    machine do not inherit: the engine's configuration and credentials, which a task has no business
    reading. ``env`` and the task's own variables may still set such names."""


def shared_fields(model: type[BaseModel]) -> dict[str, type[SharedSettings]]:
    """The fields of ``model`` that read a shared section, by field name."""
    found: dict[str, type[SharedSettings]] = {}
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, SharedSettings):
            if annotation.section != name:
                raise ConfigurationError(
                    f"{model.__name__}.{name} reads the shared section {annotation.section!r}; "
                    f"name the field {annotation.section!r}"
                )
            found[name] = annotation
    return found


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` over ``base``: mappings merge key by key, anything else is replaced."""
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = deep_merge(current, value)
        else:
            merged[key] = value
    return merged


def validate_section(
    model: type[M], data: Any, *, path: str, paths: Mapping[tuple[str, ...], str] | None = None
) -> M:
    """``data`` as a ``model``; a :class:`SettingsError` naming every bad key otherwise.

    ``path`` is where the section sits (``engine.handlers.local-process``); each problem is reported as
    ``<path>.<key>: <what was expected>, got <value>``. ``paths`` maps key prefixes to other places: a
    problem under the longest matching prefix is reported there (a shared section merged into a handler's
    settings is reported where each key came from).
    """
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise SettingsError([f"{path}: expected a mapping of settings, got {_shown(data)}"])
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        raise SettingsError([_problem(model, error, path, paths or {}) for error in exc.errors()]) from None


def _problem(model: type[BaseModel], error: Any, path: str, paths: Mapping[tuple[str, ...], str]) -> str:
    location = [str(part) for part in error["loc"]]
    where = ".".join([path, *location])
    for size in range(len(location), 0, -1):
        prefix = tuple(location[:size])
        if prefix in paths:
            where = ".".join([paths[prefix], *location[size:]])
            break
    kind = error["type"]
    if kind == "extra_forbidden":
        known = _known_keys(model, location[:-1])
        listed = f"; known: {', '.join(known)}" if known else ""
        return f"{where}: unknown key{listed}"
    if kind == "missing":
        return f"{where}: required, but not given"
    message = str(error["msg"])
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    message = message[:1].lower() + message[1:]
    return f"{where}: {message}, got {_shown(error.get('input'))}"


def _known_keys(model: type[BaseModel], location: Sequence[str]) -> list[str]:
    """The field names at ``location`` inside ``model`` (empty where it is not a nested model)."""
    current: Any = model
    for part in location:
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(part)
            if info is None:
                return []
            current = info.annotation
        elif get_origin(current) in (dict, tuple, list):
            current = get_args(current)[-1]  # a key or an index: step into the values
        else:
            return []
    if isinstance(current, type) and issubclass(current, BaseModel):
        return sorted(current.model_fields)
    return []


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
