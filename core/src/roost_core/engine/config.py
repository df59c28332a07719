"""Engine configuration (one per engine) and execution options (one per execution)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from roost_core.errors import ConfigurationError, SettingsError

T = TypeVar("T")

_EXPECTED: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "float": ("a number", lambda v: isinstance(v, int | float) and not isinstance(v, bool)),
    "int": ("a whole number", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "str": ("a string", lambda v: isinstance(v, str)),
    "dict[str, str]": (
        "a mapping of strings to strings",
        lambda v: isinstance(v, Mapping) and all(isinstance(x, str) for i in v.items() for x in i),
    ),
    "dict[str, dict[str, Any]]": (
        "a mapping of names to settings",
        lambda v: isinstance(v, Mapping) and all(isinstance(k, str) for k in v),
    ),
}


def _from_mapping(cls: type[T], data: Mapping[str, Any], what: str) -> T:
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigurationError(
            f"unknown {what} option(s): {', '.join(unknown)}; known: {', '.join(sorted(names))}"
        )
    return cls(**data)


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """How the engine runs every execution.

    ``handlers`` holds one settings section per handler name and ``shared`` the sections several handlers
    read (``task_environment``, ``kubernetes``); both are checked against the handlers' settings classes
    when the engine starts (:class:`~roost_core.plugins.HandlerSet`), and each handler is built with its
    own typed settings.
    """

    default_for_task_types: dict[str, str] = field(default_factory=dict)
    """Task type → handler name; wins over the default a plugin offers."""
    handlers: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Handler name → its settings section (``engine.handlers.<name>``)."""
    shared: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Shared section name → its settings (``engine.<section>``); a handler's section may override any of
    them under the same name."""
    max_system_retries: int = 3
    """Attempts that fail with a SYSTEM error and may be retried, beyond the task's own retries."""
    interruptible_failure_threshold: int = 1
    """After this many system failures an interruptible task's attempts run non-interruptible."""
    default_max_parallelism: int = 0
    """Task attempts running at once per execution when the execution does not say; 0 = no limit."""
    poll_interval: float = 1.0
    """Longest wait between rounds when nothing woke the execution (seconds)."""
    default_execution_deadline: float = 0.0
    """Per-attempt time limit when a node sets none (seconds; 0 = none)."""
    default_active_deadline: float = 0.0
    """Whole-node time limit when a node sets none (seconds; 0 = none)."""
    event_retries: int = 3
    """Delivery tries per sink per round before the events wait for the next round."""
    event_backoff: float = 0.05
    """First wait between delivery tries (seconds); doubles each try."""
    producer_id: str = "roost"
    """Names this engine in events."""

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> EngineConfig:
        """Build from the ``engine`` section of a configuration file: its options by name, every other key a
        shared section (checked when the engine starts). A value of the wrong type is a
        :class:`~roost_core.errors.SettingsError` naming it and the expected type."""
        options = {f.name: f for f in dataclasses.fields(cls) if f.name != "shared"}
        problems = []
        values: dict[str, Any] = {"shared": {}}
        for key, value in data.items():
            option = options.get(key)
            if option is None:
                values["shared"][key] = value
                continue
            expected, fits = _EXPECTED[str(option.type)]
            if not fits(value):
                problems.append(f"engine.{key}: expected {expected}, got {value!r}")
            values[key] = dict(value) if isinstance(value, Mapping) else value
        if problems:
            raise SettingsError(problems)
        return cls(**values)


@dataclass(frozen=True, slots=True)
class ExecutionOptions:
    """Per-execution settings, from the launch plan and the request that started it."""

    max_parallelism: int | None = None
    interruptible: bool | None = None
    """Overrides every node's interruptible flag when set."""
    overwrite_cache: bool = False
    """Run cached tasks anyway and replace their cache entries."""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    """Extra environment for every task process."""
    launch_plan: dict[str, str] = field(default_factory=dict)
    """The launch plan's identifier fields (project, domain, name, version), if launched from one."""
    parent_execution: str = ""
    """``project/domain/name`` of the execution that launched this one as a child."""
    task_handlers: dict[str, list[str]] = field(default_factory=dict)
    """Task type → handler names in order of preference, overriding the engine's choice for this execution
    (Flyte's PLUGIN_OVERRIDE); the first installed one serves the task."""
    task_handlers_fallback: list[str] = field(default_factory=list)
    """Task types of ``task_handlers`` that fall back to the engine's choice when none of their handlers is
    installed (Flyte's ``USE_DEFAULT``); the others fail the task naming the handlers."""
    task_resources: dict[str, dict[str, str]] = field(default_factory=dict)
    """The execution's TASK_RESOURCE defaults and limits (``{"defaults": {"cpu": "500m"}, "limits": {...}}``,
    resource field name → quantity), applied to the tasks its dynamic nodes generate; the admin applied them
    to the closure's tasks already (:mod:`roost_core.task_resources`)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the execution state."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ExecutionOptions:
        """Build from plain data; unknown keys are an error naming them."""
        return _from_mapping(cls, data, "execution")
