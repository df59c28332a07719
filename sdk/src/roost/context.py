"""What a running task knows about its run: ``current_context()``.

The same context is built by local runs, the engine's in-process handler and ``roost-execute`` in a
container, so task code sees the same thing everywhere. Plugins add attributes to it
(``current_context().spark_session``) through :class:`ContextAttribute`.
"""

from __future__ import annotations

import contextvars
import dataclasses
import importlib
import keyword
import logging
import os
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from roost_core.storage import BlobNotFoundError

if TYPE_CHECKING:
    from roost.serialize import SerializationSettings
    from roost.types import TypeContext

T = TypeVar("T")

SECRETS_ENV_PREFIX = "_FSEC_"
SECRETS_FOLDER = "/etc/flyte/secrets"


_TASK_LOGGER = logging.getLogger("roost.task")  # looked up once: a context is made for every attempt


@dataclass
class Checkpoint:
    """Bytes a task saves as it goes, and the ones its previous attempt saved (to resume from)."""

    types: TypeContext
    prefix: str
    previous_prefix: str

    def write(self, data: bytes) -> None:
        """Save this attempt's checkpoint."""
        if self.prefix:
            self.types.storage.write(self.types.storage.join(self.prefix, "checkpoint"), data)

    def read(self) -> bytes | None:
        """The previous attempt's checkpoint, or None on a first attempt."""
        if not self.previous_prefix:
            return None
        try:
            return self.types.storage.read(self.types.storage.join(self.previous_prefix, "checkpoint"))
        except BlobNotFoundError:
            return None


class Secrets:
    """Secrets the task asked for with ``secret_requests``: from the environment, else from files."""

    def get(self, group: str, key: str = "") -> str:
        """The secret's value; a clear error names it when it was not provided."""
        env_name = f"{SECRETS_ENV_PREFIX}{group}_{key}".upper().replace("-", "_").rstrip("_")
        if env_name in os.environ:
            return os.environ[env_name]
        path = (
            Path(SECRETS_FOLDER, group.lower(), key.lower()) if key else Path(SECRETS_FOLDER, group.lower())
        )
        if path.is_file():
            return path.read_text().strip()
        raise KeyError(f"secret {group}/{key} is not available: set {env_name} or provide {path}")


@dataclass
class TaskRunContext:
    """The run a task is part of, and where its data goes. ``current_context()`` returns it."""

    types: TypeContext
    project: str = ""
    domain: str = ""
    execution_name: str = ""
    task_name: str = ""
    task_version: str = ""
    node_id: str = ""
    attempt: int = 0
    output_prefix: str = ""
    checkpoint_prefix: str = ""
    prev_checkpoint_prefix: str = ""
    serialization: SerializationSettings | None = None
    """How tasks a dynamic task calls are serialized (image, project, domain, version)."""
    decks: list[tuple[str, str]] = field(default_factory=list)
    logging: logging.Logger = field(default=_TASK_LOGGER)
    secrets: Secrets = field(default_factory=Secrets)
    cleanup: ExitStack = field(default_factory=ExitStack, repr=False)
    """What ends with this attempt: closed (last in, first out) once the outputs are converted, or when the
    attempt fails. A plugin's ``pre_execute`` enters what it opens here: ``ctx.cleanup.enter_context(...)``."""
    plugin_attributes: dict[str, Any] = field(default_factory=dict, repr=False)
    """The values of plugin attributes set for this attempt, by name (use :meth:`set` and :meth:`get`)."""

    def set(self, attribute: ContextAttribute[T], value: T) -> None:
        """Give a plugin attribute its value for this attempt (a task class's ``pre_execute`` does this)."""
        attribute.check(value)
        self.plugin_attributes[attribute.name] = value

    def get(self, attribute: ContextAttribute[T]) -> T:
        """The value of a plugin attribute; an error names the plugin that provides it when it is not set."""
        try:
            value: T = self.plugin_attributes[attribute.name]
        except KeyError:
            raise missing_attribute(attribute.name, self.task_name) from None
        return value

    def for_index(self, node_id: str, output_prefix: str) -> TaskRunContext:
        """A context for another attempt of the same task in the same run (the next index of a map run in this
        process): its own node id and prefixes and fresh per-attempt values (reports, secrets, plugin
        attributes), the rest as here. Made without ``__init__``, and its cleanups' stack only when something
        uses it: it is made for every index of a local map."""
        attempt: TaskRunContext = object.__new__(TaskRunContext)
        values = self.__dict__.copy()
        del values["cleanup"]  # made on first use (see __getattr__)
        for name, factory in _PER_ATTEMPT:
            values[name] = factory()
        values["node_id"] = node_id
        values["output_prefix"] = output_prefix
        values["checkpoint_prefix"] = f"{output_prefix}/_checkpoints"
        attempt.__dict__.update(values)
        return attempt

    def close_cleanup(self) -> None:
        """Close what ends with this attempt (:attr:`cleanup`), last in, first out."""
        stack = self.__dict__.get("cleanup")
        if stack is not None:  # a context made by for_index that nothing registered a cleanup with has none
            stack.close()

    if not TYPE_CHECKING:
        # At run time plugin attributes also read as attributes (``current_context().spark_session``, as in
        # flytekit); type checkers see only declared names, so typed code uses ``ATTRIBUTE.get()``.
        def __getattr__(self, name: str) -> Any:
            if name == "cleanup":  # a context made by for_index gets its stack on first use
                stack = self.__dict__["cleanup"] = ExitStack()
                return stack
            values = self.__dict__.get("plugin_attributes")
            if name.startswith("_") or values is None:
                raise AttributeError(name)
            if name in values:
                return values[name]
            raise missing_attribute(name, self.task_name)

    @property
    def working_directory(self) -> Path:
        """A folder of this run the task may use for scratch files; removed when the run ends."""
        return Path(self.types.local_dir)

    @property
    def raw_output_prefix(self) -> str:
        """Where the task's files and data frames are uploaded."""
        return self.types.raw_output_prefix

    @property
    def checkpoint(self) -> Checkpoint:
        """Save and restore progress across retries."""
        return Checkpoint(self.types, self.checkpoint_prefix, self.prev_checkpoint_prefix)

    def add_deck(self, title: str, html: str) -> None:
        """Add an HTML section to the task's report (kept when the task is declared with ``deck=True``)."""
        self.decks.append((title, html))

    def deck_html(self) -> str:
        """The whole report as one HTML page."""
        from html import escape

        sections = "".join(f"<section><h2>{escape(title)}</h2>{body}</section>" for title, body in self.decks)
        return (
            f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(self.task_name)}</title>"
            f"</head><body>{sections}</body></html>"
        )


_PER_ATTEMPT = [
    (f.name, f.default_factory)
    for f in dataclasses.fields(TaskRunContext)
    if f.default_factory is not dataclasses.MISSING and f.name != "cleanup"
]
"""The fields each attempt gets a fresh value of, made as ``__init__`` makes them."""


class MissingContextAttributeError(AttributeError):
    """A plugin attribute of ``current_context()`` that is not set in this task (or that no plugin provides).

    An ``AttributeError``, so ``hasattr(current_context(), "spark_session")`` is False when it is missing.
    """


def missing_attribute(name: str, task_name: str) -> MissingContextAttributeError:
    """The error for reading the plugin attribute ``name`` that the running task's context does not have."""
    from roost.plugins.manager import sdk_plugins

    task = f"task {task_name.rsplit('.', 1)[-1]!r}" if task_name else "this task"
    entry = sdk_plugins().context_attributes().get(name)
    if entry is not None:
        doc = f" ({entry.attribute.doc})" if entry.attribute.doc else ""
        return MissingContextAttributeError(
            f"current_context().{name} is not set in {task}: it is provided by {entry.provider}{doc}, "
            "and only the task classes of that plugin set it"
        )
    provided = ", ".join(sorted(sdk_plugins().context_attributes())) or "none"
    return MissingContextAttributeError(
        f"current_context() has no attribute {name!r} in {task}; attributes that installed plugins provide: "
        f"{provided}"
    )


class ContextAttribute(Generic[T]):
    """An attribute a plugin adds to ``current_context()``, with its name and type::

        SPARK_SESSION: ContextAttribute[SparkSession] = ContextAttribute(
            "spark_session", "pyspark.sql.SparkSession", doc="the Spark session of Spark tasks"
        )

    The plugin registers it through the ``roost_context_attributes`` hook, its task class sets it in
    ``pre_execute`` (``ctx.set(SPARK_SESSION, session)``), and task code reads it typed with
    ``SPARK_SESSION.get()`` (or ``current_context().get(SPARK_SESSION)``), or as
    ``current_context().spark_session``. The type may be named by a string (``"package.module.Class"``) so that
    defining the attribute imports nothing; values are checked against it when set.
    """

    def __init__(self, name: str, value_type: type[T] | str, *, doc: str = "") -> None:
        if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
            raise ValueError(f"context attribute name {name!r} must be a public Python identifier")
        if name in _RESERVED:
            raise ValueError(f"context attribute name {name!r} is taken by current_context() itself")
        if not isinstance(value_type, type | str):
            raise TypeError(f"context attribute {name!r}: its type must be a class or a 'module.Class' name")
        self.name = name
        self.value_type = value_type
        self.doc = doc

    @property
    def type_name(self) -> str:
        """The type's dotted name."""
        if isinstance(self.value_type, str):
            return self.value_type
        return f"{self.value_type.__module__}.{self.value_type.__qualname__}"

    def get(self) -> T:
        """The value in the task running now."""
        return current_context().get(self)

    def check(self, value: object) -> None:
        """Raise TypeError when ``value`` is not of this attribute's type."""
        expected = self.value_type
        if isinstance(expected, str):
            module, _, attribute = expected.rpartition(".")
            expected = getattr(importlib.import_module(module), attribute)
        if not isinstance(value, expected):
            raise TypeError(
                f"context attribute {self.name!r} holds a {self.type_name}, not {value!r} ({type(value).__qualname__})"
            )

    def __repr__(self) -> str:
        return f"ContextAttribute({self.name!r}, {self.type_name!r})"


_CURRENT: contextvars.ContextVar[TaskRunContext | None] = contextvars.ContextVar(
    "roost_task_run", default=None
)


def current_context() -> TaskRunContext:
    """The context of the task running in this thread; outside a task, an error says so."""
    found = _CURRENT.get()
    if found is None:
        raise RuntimeError("current_context() is only available while a task runs")
    return found


def running_task(ctx: TaskRunContext) -> AbstractContextManager[TaskRunContext]:
    """Make ``ctx`` the current context while a task's code runs (``with running_task(ctx): ...``)."""
    return _Running(ctx)


class _Running(AbstractContextManager[TaskRunContext]):
    """A plain class, not a generator: it is entered several times for every task attempt."""

    __slots__ = ("_ctx", "_token")

    def __init__(self, ctx: TaskRunContext) -> None:
        self._ctx = ctx

    def __enter__(self) -> TaskRunContext:
        self._token = _CURRENT.set(self._ctx)
        return self._ctx

    def __exit__(self, *exc: object) -> None:
        _CURRENT.reset(self._token)


_RESERVED = frozenset({f.name for f in dataclasses.fields(TaskRunContext)} | set(dir(TaskRunContext)))
