"""The engine side of roost-ray (entry point ``roost.engine``): the ``ray-local`` handler, the default for
``ray`` tasks, and (with the ``kubernetes`` extra) the ``ray-k8s`` candidate that configuration selects.

Registering imports neither Ray, the handlers nor their settings classes.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

from roost_core.handler import TaskHandler
from roost_core.plugins.hookspecs import RegisterHandler, hookimpl

if TYPE_CHECKING:
    from roost_ray.k8s import RayK8sSettings
    from roost_ray.settings import RayLocalSettings

__all__ = ["TASK_TYPE", "roost_task_handlers"]

TASK_TYPE = "ray"


def local_handler(settings: RayLocalSettings) -> TaskHandler:
    """The ``ray-local`` handler, built with its settings."""
    from roost_ray.local import RayLocalHandler

    return RayLocalHandler(settings)


def k8s_handler(settings: RayK8sSettings) -> TaskHandler:
    """The ``ray-k8s`` handler (KubeRay RayJobs), built with its settings."""
    from roost_ray.k8s import RayK8sHandler

    return RayK8sHandler(settings)


@hookimpl
def roost_task_handlers(register: RegisterHandler) -> None:
    """``ray-local``: the default for ``ray`` tasks; ``ray-k8s``: a candidate, when roost-k8s-pod is installed."""
    register(
        "ray-local",
        local_handler,
        task_types=[TASK_TYPE],
        default=True,
        settings="roost_ray.settings:RayLocalSettings",
    )
    # Looked up, not imported: a laptop without the kubernetes extra never loads a Kubernetes client.
    if importlib.util.find_spec("roost_k8s_pod") is not None:
        register(
            "ray-k8s",
            k8s_handler,
            task_types=[TASK_TYPE],
            settings="roost_ray.k8s:RayK8sSettings",
        )
