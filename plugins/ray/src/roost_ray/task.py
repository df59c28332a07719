"""``RayFunctionTask``: what ``@task(task_config=RayJobConfig(...))`` makes.

Its template has the type ``ray`` and the ``RayJob`` as ``custom`` (:func:`roost_ray.config.ray_job`). While
it runs, Ray is initialised (:mod:`roost_ray.driver`): on the cluster ``RayJobConfig.address`` names, else on
the one ``RAY_ADDRESS`` names (the engine's Ray handlers set it), else on a local runtime of this process
bounded by the task's resources; ``@ray.remote`` functions of the task's code then work.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from roost.errors import WorkflowDefinitionError
from roost.extend import PluginTask, SerializationSettings, TaskOptions, TaskRunContext
from roost_ray.config import RayJobConfig, config_problems, ray_job

__all__ = ["RayFunctionTask", "RuntimeEnvError"]


class RuntimeEnvError(Exception):
    """The task's ``RayJobConfig.runtime_env`` could not be installed (the user's to fix)."""


class RayFunctionTask(PluginTask[RayJobConfig]):
    """A Python function run as a Ray job's driver."""

    task_type = "ray"

    def __init__(self, fn: Callable[..., Any], options: TaskOptions, task_config: RayJobConfig) -> None:
        super().__init__(fn, options, task_config)
        problems = config_problems(task_config)
        if problems:
            raise WorkflowDefinitionError(f"{self.label}: " + "; ".join(problems))

    def custom(self, settings: SerializationSettings) -> dict[str, Any]:
        """The ``RayJob`` message, as flytekitplugins-ray writes it."""
        return ray_job(self.task_config)

    def pre_execute(self, ctx: TaskRunContext) -> TaskRunContext:
        """Initialise Ray for the attempt; the connection is released when the attempt ends."""
        from roost_ray.driver import connect

        ctx.cleanup.callback(connect(self.label, self.task_config, self.options, self.fn))
        return ctx

    def execute(self, **inputs: Any) -> Any:
        """Install the runtime environment first (its failure is the user's), then call the function."""
        if self.task_config.runtime_env:
            from roost_ray.driver import check_runtime_env

            check_runtime_env(self.label, self.task_config.runtime_env)
        return super().execute(**inputs)
