"""The engine side of roost-presto (entry point ``roost.engine``): registers the presto handler.

Registering imports neither the trino client nor the handler's settings: an engine imports them when it
checks the settings or builds the handler, and a local run of Python tasks never does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from roost_core.handler import TaskHandler
from roost_core.plugins.hookspecs import RegisterHandler, hookimpl

if TYPE_CHECKING:
    from roost_presto.settings import TrinoSettings

__all__ = ["TASK_TYPES", "roost_task_handlers"]

TASK_TYPES = ("presto",)
"""The task types the presto handler runs (Trino and Presto queries alike, as in Flyte)."""


def presto_handler(settings: TrinoSettings) -> TaskHandler:
    """The presto handler, built with its settings."""
    from roost_presto.handler import TrinoHandler

    return TrinoHandler(settings)


@hookimpl
def roost_task_handlers(register: RegisterHandler) -> None:
    """The presto handler, the default for ``presto`` tasks."""
    register(
        "presto",
        presto_handler,
        task_types=TASK_TYPES,
        default=True,
        settings="roost_presto.settings:TrinoSettings",
    )
