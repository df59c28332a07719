"""SDK-side hook specifications: the reference manual for SDK plugins.

An SDK plugin is a module listed under the ``roost.sdk`` entry-point group, holding functions decorated with
:data:`roost.plugins.hookimpl` whose names match the hooks below. Each hook receives a ``register`` callable.
Roost's own types, data frame kinds, task kinds and commands register through these same hooks. A plugin
that fails to import, or implements a hook that does not exist (a misspelling), is left out with a warning
naming it, its distribution and the error; the rest keeps working. Loading the SDK side never imports an
engine-side module. ``roost.extend`` exports these names as the stable surface for plugin authors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import pluggy

if TYPE_CHECKING:
    import click

    from roost.context import ContextAttribute
    from roost.tasks import TaskClass
    from roost.types.dataset_handlers import DatasetHandler
    from roost.types.transformer import TypeTransformer

C = TypeVar("C")

PROJECT = "roost_sdk"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class RegisterTaskType(Protocol):
    """The ``register`` callable of :func:`roost_task_types`: a ``task_config`` class and the task class that
    ``@task(task_config=config)`` makes, called as ``task_class(function, options, config)``."""

    def __call__(self, config_class: type[C], task_class: TaskClass[C]) -> None: ...


class RegisterTransformer(Protocol):
    """The ``register`` callable of :func:`roost_type_transformers`."""

    def __call__(self, transformer: TypeTransformer[Any]) -> None: ...


class RegisterDatasetHandler(Protocol):
    """The ``register`` callable of :func:`roost_structured_dataset_handlers`.

    ``default_format``: this handler's format is the one data frames of its type are written in when nothing
    asks for another. ``default_protocol``: data frames of its type go to this handler's protocol when no URI
    says otherwise (a BigQuery frame type to ``bq://``).
    """

    def __call__(
        self, handler: DatasetHandler, *, default_format: bool = False, default_protocol: bool = False
    ) -> None: ...


class RegisterContextAttribute(Protocol):
    """The ``register`` callable of :func:`roost_context_attributes`."""

    def __call__(self, attribute: ContextAttribute[Any]) -> None: ...


class RegisterImageBuilder(Protocol):
    """The ``register`` callable of :func:`roost_image_builders`."""

    def __call__(self, name: str, builder: Any) -> None: ...


class RegisterCommand(Protocol):
    """The ``register`` callable of :func:`roost_cli_commands`."""

    def __call__(self, command: click.Command) -> None: ...


@hookspec
def roost_task_types(register: RegisterTaskType) -> None:
    """Register task kinds: the ``task_config`` class users pass to ``@task`` and the task class it makes."""


@hookspec
def roost_type_transformers(register: RegisterTransformer) -> None:
    """Register type transformers between Python types and flyteidl literals."""


@hookspec
def roost_structured_dataset_handlers(register: RegisterDatasetHandler) -> None:
    """Register structured-dataset encoders and decoders, by (Python type, storage protocol, format)."""


@hookspec
def roost_context_attributes(register: RegisterContextAttribute) -> None:
    """Register the attributes a plugin adds to ``current_context()`` (set by its task classes)."""


@hookspec
def roost_image_builders(register: RegisterImageBuilder) -> None:
    """Register image builders by name, for ``ImageSpec`` and ``roost build``."""


@hookspec
def roost_cli_commands(register: RegisterCommand) -> None:
    """Register extra ``roost`` CLI commands."""
