"""The engine side of roost-k8s-pod (entry point ``roost.engine``): registers the Pod handler.

The Pod handler offers itself as the default only for ``sidecar`` and ``pod`` tasks, which nothing else
runs: for ``python-task``, ``container`` and ``raw-container`` it is a candidate that configuration chooses
(``engine.default_for_task_types``), so installing this package, or a plugin built on its Kubernetes
toolkit, never takes Python tasks away from ``local-process``.

Registering imports no Kubernetes client and no settings class; that happens when an engine builds or
checks the handler, and the client when the handler first talks to a cluster.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from roost_core.handler import TaskHandler
from roost_core.plugins.hookspecs import RegisterHandler, hookimpl

if TYPE_CHECKING:
    from roost_k8s_pod.settings import PodSettings

__all__ = ["TASK_TYPES", "roost_task_handlers"]

TASK_TYPES = ("python-task", "container", "raw-container", "sidecar", "pod")
"""The task types the Pod handler registers for."""
DEFAULT_FOR = ("sidecar", "pod")
"""The task types it offers itself as the default of."""


def pod_handler(settings: PodSettings) -> TaskHandler:
    """The Pod handler, built with its settings."""
    from roost_k8s_pod.pod import PodHandler

    return PodHandler(settings)


@hookimpl
def roost_task_handlers(register: RegisterHandler) -> None:
    """The Pod handler: a candidate for Python and container tasks, the default for sidecar and pod tasks."""
    register(
        "k8s-pod",
        pod_handler,
        task_types=TASK_TYPES,
        default=DEFAULT_FOR,
        settings="roost_k8s_pod.settings:PodSettings",
    )
