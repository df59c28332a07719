"""The stable surface for engine plugin authors: everything a task-type plugin may import from roost-core.

Names here keep their meaning across minor releases; anything else in ``roost_core`` may change. Names are
imported on first use, so importing this module is cheap. ``docs/plugins.md`` is the guide.

Registering: :data:`hookimpl`, :class:`RegisterHandler` (the ``register`` of ``roost_task_handlers``).
The handler contract: :class:`TaskHandler`, :class:`TaskContext`, :class:`Transition`, :class:`TaskPhase`,
:class:`TaskLog`, :class:`ErrorKind`, :class:`ExecutionError`.
Settings: :class:`HandlerSettings`, :class:`SharedSettings`, :class:`TaskEnvironment`, :data:`Seconds`,
:class:`ConfigurationError`, :class:`SettingsError`.
The container contract: :func:`render_task_args`, :func:`read_task_result`, :func:`completion_transition`,
:func:`generated_name`; copilot data loading: :func:`data_loading_config`.
Local processes: :class:`LocalProcessHandler` and :class:`LocalProcessSettings` (``local-process``), for a
handler that runs a task's command on this machine with its own environment or checks around it;
:class:`WarmSettings`, its warm task processes.
Remote jobs: :class:`RemoteJobPlugin`, :class:`RemoteJobHandler`, :class:`RemoteJobSettings`,
:class:`JobMeta`, :class:`UserError`, :func:`attempt_job_id`.
Storage: :class:`Storage`, :class:`BlobStore`, :class:`StorageError`.
The test kit is :mod:`roost_core.testing` (tasks, driver, harness).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from roost_core.lazy import lazy_exports

if TYPE_CHECKING:
    from roost_core.container import completion_transition, generated_name, read_task_result, render_task_args
    from roost_core.copilot import data_loading_config
    from roost_core.errors import ConfigurationError, ErrorKind, ExecutionError, SettingsError
    from roost_core.handler import TaskContext, TaskHandler, TaskLog, TaskPhase, Transition
    from roost_core.handlers._warm_pool import WarmSettings
    from roost_core.handlers.local_process import LocalProcessHandler, LocalProcessSettings
    from roost_core.plugins.hookspecs import RegisterHandler, hookimpl
    from roost_core.remote import (
        JobMeta,
        RemoteJobHandler,
        RemoteJobPlugin,
        RemoteJobSettings,
        UserError,
        attempt_job_id,
    )
    from roost_core.settings import HandlerSettings, Seconds, SharedSettings, TaskEnvironment
    from roost_core.storage import BlobStore, Storage, StorageError

_HOMES = {
    "completion_transition": "roost_core.container",
    "generated_name": "roost_core.container",
    "read_task_result": "roost_core.container",
    "render_task_args": "roost_core.container",
    "data_loading_config": "roost_core.copilot",
    "ConfigurationError": "roost_core.errors",
    "ErrorKind": "roost_core.errors",
    "ExecutionError": "roost_core.errors",
    "SettingsError": "roost_core.errors",
    "TaskContext": "roost_core.handler",
    "TaskHandler": "roost_core.handler",
    "TaskLog": "roost_core.handler",
    "TaskPhase": "roost_core.handler",
    "Transition": "roost_core.handler",
    "LocalProcessHandler": "roost_core.handlers.local_process",
    "LocalProcessSettings": "roost_core.handlers.local_process",
    "WarmSettings": "roost_core.handlers._warm_pool",
    "RegisterHandler": "roost_core.plugins.hookspecs",
    "hookimpl": "roost_core.plugins.hookspecs",
    "JobMeta": "roost_core.remote",
    "RemoteJobHandler": "roost_core.remote",
    "RemoteJobPlugin": "roost_core.remote",
    "RemoteJobSettings": "roost_core.remote",
    "UserError": "roost_core.remote",
    "attempt_job_id": "roost_core.remote",
    "HandlerSettings": "roost_core.settings",
    "Seconds": "roost_core.settings",
    "SharedSettings": "roost_core.settings",
    "TaskEnvironment": "roost_core.settings",
    "BlobStore": "roost_core.storage",
    "Storage": "roost_core.storage",
    "StorageError": "roost_core.storage",
}

__all__ = [
    "BlobStore",
    "ConfigurationError",
    "ErrorKind",
    "ExecutionError",
    "HandlerSettings",
    "JobMeta",
    "LocalProcessHandler",
    "LocalProcessSettings",
    "RegisterHandler",
    "RemoteJobHandler",
    "RemoteJobPlugin",
    "RemoteJobSettings",
    "Seconds",
    "SettingsError",
    "SharedSettings",
    "Storage",
    "StorageError",
    "TaskContext",
    "TaskEnvironment",
    "TaskHandler",
    "TaskLog",
    "TaskPhase",
    "Transition",
    "UserError",
    "WarmSettings",
    "attempt_job_id",
    "completion_transition",
    "data_loading_config",
    "generated_name",
    "hookimpl",
    "read_task_result",
    "render_task_args",
]


__getattr__ = lazy_exports(__name__, _HOMES)
