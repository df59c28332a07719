"""The engine side of roost-k8s-pod (entry point ``roost.engine``): registers the Pod handler.

Importing this module and registering the handler import no Kubernetes client; that happens when the
handler first talks to a cluster.
"""

from __future__ import annotations

from roost_core.plugins.hookspecs import RegisterHandler, hookimpl
from roost_k8s_pod.pod import TASK_TYPES, PodHandler

__all__ = ["roost_task_handlers"]


@hookimpl
def roost_task_handlers(register: RegisterHandler) -> None:
    """The Pod handler, for python-task, container, raw-container, sidecar and pod tasks."""
    register(PodHandler(), task_types=TASK_TYPES)
