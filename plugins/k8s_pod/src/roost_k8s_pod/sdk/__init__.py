"""The SDK side of roost-k8s-pod (entry point ``roost.sdk``): ``Pod``, ``PodTemplate`` and ``ContainerTask``.

``@task(task_config=Pod(...))`` runs a Python task in a custom pod; ``PodTemplate`` is a pod spec for
``ContainerTask`` and for ``node.with_overrides(pod_template=...)``; ``ContainerTask`` runs any image
with typed inputs and outputs. Loading this module imports neither the ``kubernetes`` client nor the
engine side of the package.
"""

from __future__ import annotations

from roost.plugins.hookspecs import RegisterTaskType, hookimpl
from roost_k8s_pod.sdk.container_task import ContainerTask
from roost_k8s_pod.sdk.pod import Pod, PodTask, PodTemplate

__all__ = ["ContainerTask", "Pod", "PodTask", "PodTemplate", "roost_task_types"]


@hookimpl
def roost_task_types(register: RegisterTaskType) -> None:
    """``Pod`` task configs make pod tasks."""
    register(Pod, PodTask)
