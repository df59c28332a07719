"""Ray tasks for Roost: ``@task(task_config=RayJobConfig(...))`` runs a function as a Ray job's driver.

The names and arguments are flytekitplugins-ray 1.16's, and so is the ``RayJob`` a task registers. Engine side:
the ``ray-local`` handler runs Ray tasks on a local Ray runtime (the default for ``roost run`` and
``roost start``); ``ray-k8s`` (with the ``kubernetes`` extra) submits KubeRay ``RayJob`` objects.
"""

from roost_ray.config import AutoscalerOptionsConfig, HeadNodeConfig, RayJobConfig, WorkerNodeConfig
from roost_ray.task import RayFunctionTask, RuntimeEnvError

__all__ = [
    "AutoscalerOptionsConfig",
    "HeadNodeConfig",
    "RayFunctionTask",
    "RayJobConfig",
    "RuntimeEnvError",
    "WorkerNodeConfig",
]
