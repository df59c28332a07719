"""Which handler serves each task type, and building handlers once with their validated settings.

Choice, per task type, in this order:

1. configuration: ``engine.default_for_task_types`` maps the task type to a handler;
2. the one handler that offered itself as the default for it (``register(..., default=...)``); two such
   offers, unless configuration settles them, are a start-up error naming both;
3. otherwise none: a task of that type fails, naming the candidates and the setting that chooses one.

So installing a plugin never changes which handler serves a task type that already had one: a plugin that
adds itself as a mere candidate (the Pod handler for ``python-task``) is used only when configured.

Settings: a :class:`HandlerSet` checks the whole handler configuration when it is made (unknown handler
names, unknown shared sections, every key of every section, through each handler's settings class) and
reports every problem at once. Handlers are built on first use, once, with those settings; the settings
classes are imported only when there is configuration to check or a handler to build.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from roost_core.errors import ConfigurationError, SettingsError, UnknownTaskTypeError, join_problems
from roost_core.handler import TaskHandler

if TYPE_CHECKING:
    from pydantic import BaseModel

    from roost_core.engine.config import EngineConfig

__all__ = ["Candidate", "HandlerRegistration", "HandlerSet", "TaskTypeChoice"]

CHOOSE_WITH = "engine.default_for_task_types"
"""The setting that chooses a handler for a task type, as messages name it."""


@dataclass(frozen=True, slots=True)
class HandlerRegistration:
    """One handler a plugin registered: its factory, task types, default offers and settings class."""

    name: str
    factory: Callable[..., TaskHandler]
    task_types: tuple[str, ...]
    default_for: frozenset[str]
    """The task types it offered itself as the default handler of."""
    settings: type[BaseModel] | str | None
    """Its settings class, ``"module:Class"`` to import on first need, or None (it takes no settings)."""
    plugin: str
    """The name of the plugin that registered it."""

    def settings_model(self) -> type[BaseModel] | None:
        """The settings class, imported if it was given by name."""
        settings = self.settings
        if settings is None:
            return None
        from pydantic import BaseModel

        if isinstance(settings, str):
            module, _, attribute = settings.partition(":")
            try:
                settings = getattr(importlib.import_module(module), attribute)
            except (ImportError, AttributeError) as exc:
                raise ConfigurationError(
                    f"handler {self.name!r} (plugin {self.plugin!r}): cannot import its settings class "
                    f"{self.settings!r}: {type(exc).__name__}: {exc}"
                ) from None
        if not (isinstance(settings, type) and issubclass(settings, BaseModel)):
            raise ConfigurationError(
                f"handler {self.name!r} (plugin {self.plugin!r}): its settings {settings!r} are not a "
                "pydantic model (subclass roost_core.settings.HandlerSettings)"
            )
        return settings


def registration(
    plugin: str,
    name: Any,
    factory: Any,
    task_types: Any,
    default: Any,
    settings: Any,
) -> HandlerRegistration:
    """A checked :class:`HandlerRegistration` from what a plugin passed to ``register``."""
    where = f"plugin {plugin!r}"
    if not isinstance(name, str) or not name:
        raise ConfigurationError(f"{where} registered a handler without a name (got {name!r})")
    if isinstance(name, TaskHandler) or not callable(factory) or isinstance(factory, TaskHandler):
        raise ConfigurationError(
            f"{where} registered handler {name!r} with {factory!r}, which is not a factory: pass the handler "
            "class, or a function building the handler from its settings"
        )
    if isinstance(task_types, str) or not all(isinstance(t, str) and t for t in task_types):
        raise ConfigurationError(
            f"{where} registered handler {name!r} with task_types {task_types!r}; expected a list of names"
        )
    types = tuple(task_types)
    if isinstance(default, bool):
        default_for = frozenset(types if default else ())
    elif isinstance(default, str) or not isinstance(default, Iterable):
        raise ConfigurationError(
            f"{where} registered handler {name!r} with default={default!r}; expected true, false or a list "
            "of its task types"
        )
    else:
        default_for = frozenset(default)
        stray = sorted(default_for - set(types))
        if stray:
            raise ConfigurationError(
                f"{where} registered handler {name!r} as the default for {', '.join(map(repr, stray))}, "
                f"which it does not serve (its task types: {', '.join(types)})"
            )
    if settings is not None and not isinstance(settings, str | type):
        raise ConfigurationError(
            f"{where} registered handler {name!r} with settings {settings!r}; expected a settings class "
            "or 'module:Class'"
        )
    if isinstance(settings, str) and ":" not in settings:
        raise ConfigurationError(
            f"{where} registered handler {name!r} with settings {settings!r}; a name must be 'module:Class'"
        )
    return HandlerRegistration(name, factory, types, default_for, settings, plugin)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A handler that registered for a task type."""

    name: str
    plugin: str
    offers_default: bool


@dataclass(frozen=True, slots=True)
class TaskTypeChoice:
    """Which handler serves a task type, among which candidates, and why."""

    task_type: str
    candidates: tuple[Candidate, ...]
    chosen: str | None
    reason: str
    conflict: str = ""
    """A start-up error: several handlers offered themselves as the default and nothing chose."""


def choose(
    registrations: Iterable[HandlerRegistration], configured: Mapping[str, str]
) -> dict[str, TaskTypeChoice]:
    """The choice for every task type some handler registered for or configuration names."""
    candidates: dict[str, list[Candidate]] = {}
    for reg in registrations:
        for task_type in reg.task_types:
            candidates.setdefault(task_type, []).append(
                Candidate(reg.name, reg.plugin, task_type in reg.default_for)
            )
    choices: dict[str, TaskTypeChoice] = {}
    for task_type in sorted(set(candidates) | set(configured)):
        found = tuple(candidates.get(task_type, ()))
        offers = [c for c in found if c.offers_default]
        if task_type in configured:
            choices[task_type] = TaskTypeChoice(
                task_type, found, configured[task_type], f"configured in {CHOOSE_WITH}"
            )
        elif len(offers) == 1:
            chosen = offers[0]
            choices[task_type] = TaskTypeChoice(
                task_type, found, chosen.name, f"the default offered by plugin {chosen.plugin!r}"
            )
        elif offers:
            named = " and ".join(f"{c.name!r} (plugin {c.plugin!r})" for c in offers)
            conflict = (
                f"task type {task_type!r}: handlers {named} both offer themselves as its default; "
                f"choose one in {CHOOSE_WITH}"
            )
            choices[task_type] = TaskTypeChoice(task_type, found, None, "conflicting defaults", conflict)
        else:
            choices[task_type] = TaskTypeChoice(
                task_type,
                found,
                None,
                f"no handler offers itself as the default; choose one in {CHOOSE_WITH}",
            )
    return choices


class HandlerSet:
    """The engine's handlers: chosen by task type, checked against configuration, built once on first use.

    Making one checks the configuration (see the module docstring) and raises a
    :class:`~roost_core.errors.ConfigurationError` listing every problem. Thread-safe.
    """

    def __init__(self, registrations: Iterable[HandlerRegistration], config: EngineConfig) -> None:
        self._registrations: dict[str, HandlerRegistration] = {}
        problems: list[str] = []
        for reg in registrations:
            other = self._registrations.get(reg.name)
            if other is not None:
                problems.append(
                    f"handler {reg.name!r} is registered twice: by plugin {other.plugin!r} and by plugin "
                    f"{reg.plugin!r}"
                )
                continue
            self._registrations[reg.name] = reg
        self._config = config
        self._choices = choose(self._registrations.values(), config.default_for_task_types)
        problems += self._check_names()
        problems += [choice.conflict for choice in self._choices.values() if choice.conflict]
        self._settings: dict[str, Any] = {}
        if not problems and (config.handlers or config.shared):
            problems += self._check_settings()
        if problems:
            raise SettingsError(problems)
        self._built: dict[str, TaskHandler] = {}
        self._lock = threading.Lock()

    # checks

    def _installed(self) -> str:
        return ", ".join(sorted(self._registrations)) or "none"

    def _check_names(self) -> list[str]:
        problems = []
        for task_type, name in self._config.default_for_task_types.items():
            if name not in self._registrations:
                problems.append(
                    f"{CHOOSE_WITH}.{task_type}: handler {name!r} is not installed; installed handlers: "
                    f"{self._installed()}"
                )
        for name, raw in self._config.handlers.items():
            section: object = raw  # from a settings file: anything
            if name not in self._registrations:
                problems.append(
                    f"engine.handlers.{name}: unknown handler; installed handlers: {self._installed()}"
                )
            elif section is not None and not isinstance(section, Mapping):
                problems.append(f"engine.handlers.{name}: expected a mapping of settings, got {section!r}")
        return problems

    def _check_settings(self) -> list[str]:
        """Validate every handler's settings (importing the settings classes); the problems found."""
        from roost_core.settings import shared_fields

        problems: list[str] = []
        models: dict[str, type[BaseModel] | None] = {}
        sections: set[str] = set()
        for name, reg in self._registrations.items():
            try:
                models[name] = model = reg.settings_model()
                if model is not None:
                    sections |= {shared.section for shared in shared_fields(model).values()}
            except ConfigurationError as exc:
                problems.append(str(exc))
        for section, raw in self._config.shared.items():
            data: object = raw  # from a settings file: anything
            if section not in sections:
                options = sorted(f.name for f in fields(self._config) if f.name != "shared")
                problems.append(
                    f"engine.{section}: unknown key; known: {', '.join(options)}; shared sections of the "
                    f"installed handlers: {', '.join(sorted(sections)) or 'none'}"
                )
            elif not isinstance(data, Mapping):
                problems.append(f"engine.{section}: expected a mapping of settings, got {data!r}")
        if problems:
            return problems
        for name, model in models.items():
            if model is None:
                if self._config.handlers.get(name):
                    problems.append(f"engine.handlers.{name}: handler {name!r} takes no settings")
                continue
            try:
                self._settings[name] = self._validated(name, model)
            except SettingsError as exc:
                problems += exc.problems
        return problems

    def _validated(self, name: str, model: type[BaseModel]) -> Any:
        """The handler's settings: its section, with each shared section it reads merged under it."""
        from roost_core.settings import deep_merge, shared_fields, validate_section

        section = dict(self._config.handlers.get(name) or {})
        paths: dict[tuple[str, ...], str] = {}
        for field_name, shared in shared_fields(model).items():
            base = self._config.shared.get(shared.section) or {}
            override = section.get(field_name) or {}
            if isinstance(base, Mapping) and isinstance(override, Mapping):
                section[field_name] = deep_merge(base, override)
                paths[(field_name,)] = f"engine.{shared.section}"
                paths.update(
                    {(field_name, str(key)): f"engine.handlers.{name}.{field_name}.{key}" for key in override}
                )
        return validate_section(model, section, path=f"engine.handlers.{name}", paths=paths)

    # choosing and building

    def choices(self) -> list[TaskTypeChoice]:
        """Every task type with its candidates, the chosen handler and why, by task type."""
        return list(self._choices.values())

    def registrations(self) -> list[HandlerRegistration]:
        """Every registered handler."""
        return list(self._registrations.values())

    def for_task_type(self, task_type: str) -> TaskHandler:
        """The handler that runs tasks of ``task_type``, built on first use."""
        choice = self._choices.get(task_type)
        if choice is None:
            raise UnknownTaskTypeError(
                f"no handler for task type {task_type!r}; installed handlers: {self.describe()}"
            )
        if choice.chosen is None:
            names = ", ".join(c.name for c in choice.candidates)
            raise ConfigurationError(
                f"task type {task_type!r} has no default handler among its candidates ({names}); "
                f"choose one in {CHOOSE_WITH}"
            )
        return self.by_name(choice.chosen)

    def for_task(self, task_type: str, preferred: list[str], *, fallback: bool) -> TaskHandler:
        """The first installed handler of ``preferred`` that takes ``task_type`` (an execution's override);
        when there is none, the handler :meth:`for_task_type` picks if ``fallback``, else an error naming
        them."""
        for name in preferred:
            reg = self._registrations.get(name)
            if reg is not None and task_type in reg.task_types:
                return self.by_name(name)
        if fallback or not preferred:
            return self.for_task_type(task_type)
        raise UnknownTaskTypeError(
            f"none of the handlers {', '.join(preferred)} that the execution's plugin override names for task "
            f"type {task_type!r} is installed and takes that type; installed handlers: {self.describe()}"
        )

    def by_name(self, name: str) -> TaskHandler:
        """The handler registered as ``name``, built on first use."""
        handler = self._built.get(name)
        if handler is not None:
            return handler
        reg = self._registrations.get(name)
        if reg is None:
            raise ConfigurationError(f"no handler named {name!r}; installed: {self._installed()}")
        with self._lock:
            handler = self._built.get(name)
            if handler is None:
                handler = self._build(reg)
                self._built[name] = handler
        return handler

    def _build(self, reg: HandlerRegistration) -> TaskHandler:
        model = reg.settings_model()
        try:
            if model is None:
                handler = reg.factory()
            else:
                settings = self._settings.get(reg.name)
                if settings is None:
                    settings = self._validated(reg.name, model)
                handler = reg.factory(settings)
        except ConfigurationError:
            raise
        except Exception as exc:  # a plugin's factory: reported with the handler and plugin it belongs to
            raise ConfigurationError(
                f"handler {reg.name!r} (plugin {reg.plugin!r}) could not be built: {type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(handler, TaskHandler):
            raise ConfigurationError(
                f"handler {reg.name!r} (plugin {reg.plugin!r}): its factory returned {handler!r}, which is "
                "not a TaskHandler"
            )
        handler.name = reg.name
        return handler

    def build_all(self) -> None:
        """Build every handler chosen for some task type now, so a factory's failure stops a start."""
        problems = []
        for name in sorted({c.chosen for c in self._choices.values() if c.chosen}):
            try:
                self.by_name(name)
            except ConfigurationError as exc:
                problems.append(str(exc))
        if problems:
            raise ConfigurationError(join_problems(problems))

    def close(self) -> None:
        """Close every built handler."""
        with self._lock:
            built, self._built = list(self._built.values()), {}
        for handler in built:
            handler.close()

    def describe(self) -> str:
        """``name (type, type), ...`` for every registered handler, for messages and listings."""
        parts = [f"{r.name} ({', '.join(r.task_types)})" for r in self._registrations.values()]
        return ", ".join(parts) or "none"
