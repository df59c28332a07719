"""The SDK side of the Ray plugin (entry point ``roost.sdk``): ``@task(task_config=RayJobConfig(...))``."""

from __future__ import annotations

from roost.extend import RegisterTaskType, hookimpl
from roost_ray.config import RayJobConfig
from roost_ray.task import RayFunctionTask


@hookimpl
def roost_task_types(register: RegisterTaskType) -> None:
    """``RayJobConfig`` makes a ``RayFunctionTask``."""
    register(RayJobConfig, RayFunctionTask)
