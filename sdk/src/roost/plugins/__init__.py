"""The SDK's plugin system: hook specifications (``roost.plugins.hookspecs``) and a lazy manager."""

from __future__ import annotations

from typing import Any

from roost.plugins.hookspecs import hookimpl


def task_class_for(config: Any, *, task: str) -> type[Any]:
    """The task class an installed plugin registered for ``config``'s type (``@task(task_config=...)``)."""
    from roost.plugins.manager import sdk_plugins

    return sdk_plugins().task_class_for(config, task=task)


__all__ = ["hookimpl", "task_class_for"]
