"""Roost: workflows for ML and data work, on a laptop or a cluster, speaking Flyte's wire contract.

::

    from roost import task, workflow

    @task
    def double(x: int) -> int:
        return 2 * x

    @workflow
    def wf(x: int = 3) -> int:
        return double(x=double(x=x))

Names are imported on first use, so ``import roost`` costs next to nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from roost.conditionals import conditional
    from roost.context import current_context
    from roost.gates import approve, sleep, wait_for_input
    from roost.image import ImageSpec
    from roost.launch_plan import CronSchedule, Email, FixedRate, LaunchPlan, PagerDuty, Slack
    from roost.map import map_task
    from roost.options import Cache, Resources, Secret
    from roost.tasks import dynamic, task
    from roost.types import Directory, File, StructuredDataset
    from roost.workflows import FailurePolicy, workflow

_EXPORTS = {
    "task": "roost.tasks",
    "dynamic": "roost.tasks",
    "workflow": "roost.workflows",
    "FailurePolicy": "roost.workflows",
    "map_task": "roost.map",
    "conditional": "roost.conditionals",
    "approve": "roost.gates",
    "sleep": "roost.gates",
    "wait_for_input": "roost.gates",
    "LaunchPlan": "roost.launch_plan",
    "CronSchedule": "roost.launch_plan",
    "FixedRate": "roost.launch_plan",
    "Email": "roost.launch_plan",
    "Slack": "roost.launch_plan",
    "PagerDuty": "roost.launch_plan",
    "Resources": "roost.options",
    "Secret": "roost.options",
    "Cache": "roost.options",
    "ImageSpec": "roost.image",
    "File": "roost.types",
    "Directory": "roost.types",
    "StructuredDataset": "roost.types",
    "current_context": "roost.context",
}

__all__ = [
    "Cache",
    "CronSchedule",
    "Directory",
    "Email",
    "FailurePolicy",
    "File",
    "FixedRate",
    "ImageSpec",
    "LaunchPlan",
    "PagerDuty",
    "Resources",
    "Secret",
    "Slack",
    "StructuredDataset",
    "approve",
    "conditional",
    "current_context",
    "dynamic",
    "map_task",
    "sleep",
    "task",
    "wait_for_input",
    "workflow",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'roost' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
