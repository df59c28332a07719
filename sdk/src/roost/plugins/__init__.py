"""The SDK's plugin system: hook specifications (``roost.plugins.hookspecs``) and a lazy manager.

Plugin authors import what they need from :mod:`roost.extend`, the stable surface.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from roost.plugins.hookspecs import hookimpl

if TYPE_CHECKING:
    from roost.tasks import TaskClass


def task_class_for(config: Any, *, task: str) -> TaskClass[Any]:
    """The task class an installed plugin registered for ``config``'s type (``@task(task_config=...)``)."""
    from roost.plugins.manager import sdk_plugins

    return sdk_plugins().task_class_for(config, task=task)


__all__ = ["hookimpl", "task_class_for"]
