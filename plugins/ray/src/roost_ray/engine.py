"""The engine side of roost-ray (entry point ``roost.engine``): the ``ray-local`` handler, the default for
``ray`` tasks, and (with the ``kubernetes`` extra) the ``ray-k8s`` candidate that configuration selects.

Registering imports neither Ray, the handlers nor their settings classes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from roost_core.handler import TaskHandler
from roost_core.plugins.hookspecs import RegisterHandler, hookimpl

if TYPE_CHECKING:
    from roost_ray.settings import RayLocalSettings

__all__ = ["TASK_TYPE", "roost_task_handlers"]

TASK_TYPE = "ray"


def local_handler(settings: RayLocalSettings) -> TaskHandler:
    """The ``ray-local`` handler, built with its settings."""
    from roost_ray.local import RayLocalHandler

    return RayLocalHandler(settings)


@hookimpl
def roost_task_handlers(register: RegisterHandler) -> None:
    """``ray-local``: the default for ``ray`` tasks."""
    register(
        "ray-local",
        local_handler,
        task_types=[TASK_TYPE],
        default=True,
        settings="roost_ray.settings:RayLocalSettings",
    )
