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

from typing import TYPE_CHECKING

from roost_core.lazy import lazy_exports

if TYPE_CHECKING:
    from roost.conditionals import conditional
    from roost.context import current_context
    from roost.eager_workflows import eager
    from roost.errors import FlyteRecoverableException, RecoverableError
    from roost.gates import approve, sleep, wait_for_input
    from roost.hashing import HashMethod
    from roost.image import ImageSpec
    from roost.imperative import ImperativeWorkflow as Workflow
    from roost.imperative import kwtypes
    from roost.launch_plan import CronSchedule, Email, FixedRate, LaunchPlan, PagerDuty, Slack
    from roost.map import map_task
    from roost.node_creation import create_node
    from roost.options import Cache, Resources, Secret
    from roost.shell import OutputLocation, ShellTask
    from roost.tasks import dynamic, task
    from roost.types import Directory, File, FlyteError, StructuredDataset
    from roost.workflows import FailurePolicy, workflow

_EXPORTS = {
    "Workflow": "roost.imperative:ImperativeWorkflow",  # flytekit's ``Workflow`` is the imperative builder
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
    "FlyteError": "roost.types",
    "RecoverableError": "roost.errors",
    "FlyteRecoverableException": "roost.errors",
    "kwtypes": "roost.imperative",
    "create_node": "roost.node_creation",
    "HashMethod": "roost.hashing",
    "ShellTask": "roost.shell",
    "OutputLocation": "roost.shell",
    "eager": "roost.eager_workflows",
}

__all__ = [
    "Cache",
    "CronSchedule",
    "Directory",
    "Email",
    "FailurePolicy",
    "File",
    "FixedRate",
    "FlyteError",
    "FlyteRecoverableException",
    "HashMethod",
    "ImageSpec",
    "LaunchPlan",
    "OutputLocation",
    "PagerDuty",
    "RecoverableError",
    "Resources",
    "Secret",
    "ShellTask",
    "Slack",
    "StructuredDataset",
    "Workflow",
    "approve",
    "conditional",
    "create_node",
    "current_context",
    "dynamic",
    "eager",
    "kwtypes",
    "map_task",
    "sleep",
    "task",
    "wait_for_input",
    "workflow",
]


__getattr__ = lazy_exports(__name__, _EXPORTS)
