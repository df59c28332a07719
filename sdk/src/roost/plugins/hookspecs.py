"""SDK-side hook specifications: the reference manual for SDK plugins.

An SDK plugin is a module listed under the ``roost.sdk`` entry-point group, holding functions decorated with
:data:`roost.plugins.hookimpl` whose names match the hooks below. Each hook receives a ``register`` callable.
Roost's own types, data frame kinds, task kinds and commands register through these same hooks. A plugin
that fails to import, or implements a hook that does not exist (a misspelling), is left out with a warning
naming it, its distribution and the error; the rest keeps working. Loading the SDK side never imports an
engine-side module. ``roost.extend`` exports these names as the stable surface for plugin authors.

For mypy to check a plugin's hook signatures, assign its module to the protocol of each hook it implements
(in a test or any type-checked module; nothing happens at run time)::

    import roost_mine.sdk
    from roost.plugins.hookspecs import TaskTypesPlugin

    plugin: TaskTypesPlugin = roost_mine.sdk  # mypy names a wrong or misspelled hook here
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


class TaskTypesPlugin(Protocol):
    """An SDK plugin implementing :func:`roost_task_types`, for type checkers (see the module's docstring)."""

    def roost_task_types(self, register: RegisterTaskType) -> None:
        """See :func:`roost_task_types`."""


class TypeTransformersPlugin(Protocol):
    """An SDK plugin implementing :func:`roost_type_transformers`, for type checkers (see the module's docstring)."""

    def roost_type_transformers(self, register: RegisterTransformer) -> None:
        """See :func:`roost_type_transformers`."""


class StructuredDatasetHandlersPlugin(Protocol):
    """An SDK plugin implementing :func:`roost_structured_dataset_handlers`, for type checkers (see the module's docstring)."""

    def roost_structured_dataset_handlers(self, register: RegisterDatasetHandler) -> None:
        """See :func:`roost_structured_dataset_handlers`."""


class ContextAttributesPlugin(Protocol):
    """An SDK plugin implementing :func:`roost_context_attributes`, for type checkers (see the module's docstring)."""

    def roost_context_attributes(self, register: RegisterContextAttribute) -> None:
        """See :func:`roost_context_attributes`."""


class ImageBuildersPlugin(Protocol):
    """An SDK plugin implementing :func:`roost_image_builders`, for type checkers (see the module's docstring)."""

    def roost_image_builders(self, register: RegisterImageBuilder) -> None:
        """See :func:`roost_image_builders`."""


class CliCommandsPlugin(Protocol):
    """An SDK plugin implementing :func:`roost_cli_commands`, for type checkers (see the module's docstring)."""

    def roost_cli_commands(self, register: RegisterCommand) -> None:
        """See :func:`roost_cli_commands`."""
