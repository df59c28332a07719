"""SDK-side hook specifications: the reference manual for SDK plugins.

An SDK plugin is a module listed under the ``roost.sdk`` entry-point group, holding functions decorated with
:data:`roost.plugins.hookimpl` whose names match the hooks below. Each hook receives a ``register`` callable.
Roost's own types, task kinds and commands register through these same hooks. A misspelled hook fails
plugin loading with an error naming it. Loading the SDK side never imports an engine-side module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:
    import click

    from roost.types.transformer import TypeTransformer

PROJECT = "roost_sdk"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class RegisterTaskType(Protocol):
    """The ``register`` callable of :func:`roost_task_types`."""

    def __call__(self, config_class: type[Any], task_class: type[Any]) -> None: ...


class RegisterTransformer(Protocol):
    """The ``register`` callable of :func:`roost_type_transformers`."""

    def __call__(self, transformer: TypeTransformer[Any]) -> None: ...


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
def roost_image_builders(register: RegisterImageBuilder) -> None:
    """Register image builders by name, for ``ImageSpec`` and ``roost build``."""


@hookspec
def roost_cli_commands(register: RegisterCommand) -> None:
    """Register extra ``roost`` CLI commands."""
