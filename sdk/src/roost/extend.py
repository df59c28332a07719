"""The stable surface for SDK plugin authors: everything a plugin package (or a user adding a data frame type)
may import from Roost.

Names exported here keep their meaning and signature within a major version of ``roost``; a change that could
break a plugin comes with a new major version, after a deprecation warning in the version before. Anything
imported from elsewhere in ``roost`` is internal and may change at any time.

The pieces:

- hooks: :data:`hookimpl` marks a plugin module's hook implementations (its module is listed under the
  ``roost.sdk`` entry-point group); ``Register*`` are the ``register`` callables each hook receives
  (:mod:`roost.plugins.hookspecs` documents the hooks);
- task classes: :class:`PluginTask` (what ``@task(task_config=...)`` makes), :class:`Task`,
  :class:`FunctionTask`, :class:`TaskOptions` (:func:`as_timeout` reads a user's timeout for it),
  :data:`TaskClass`, :class:`SerializationSettings`, :class:`WorkflowDefinitionError` (a task or workflow
  defined wrongly), :class:`ExecutionFailedError` (a local run failed), and the attempt's life: :class:`TaskRunContext`, :func:`current_context`, :class:`ContextAttribute`,
  :class:`TaskLifecycleError`;
- types: :class:`TypeTransformer` and what it works with (:class:`TypeContext`, the errors,
  :func:`unwrap_annotated`); data frame kinds: :class:`StructuredDatasetEncoder`,
  :class:`StructuredDatasetDecoder`, :class:`StructuredDataset`, :func:`register_dataset_handler` (for code
  that is not a plugin package), :func:`data_files`, :func:`protocol_of`;
- storage: a plugin serves a URI scheme by listing a module implementing ``roost_core``'s
  ``roost_blob_stores`` hook under the ``roost.storage`` entry-point group (:mod:`roost.plugins.storage`);
- the test kit: :func:`check_task_template`, :func:`run_locally`, :func:`run_in_container`.

Importing this module imports none of them: each is loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from roost_core.lazy import lazy_exports

if TYPE_CHECKING:
    from roost.context import (
        ContextAttribute,
        MissingContextAttributeError,
        TaskRunContext,
        current_context,
    )
    from roost.errors import ExecutionFailedError, WorkflowDefinitionError
    from roost.interface import Interface
    from roost.lifecycle import TaskLifecycleError
    from roost.options import as_timeout
    from roost.plugins.hookspecs import (
        RegisterCommand,
        RegisterContextAttribute,
        RegisterDatasetHandler,
        RegisterImageBuilder,
        RegisterTaskType,
        RegisterTransformer,
        hookimpl,
    )
    from roost.serialize import SerializationSettings
    from roost.tasks import FunctionTask, PluginTask, Task, TaskClass, TaskOptions
    from roost.testing import (
        ContainerTaskError,
        TemplateCheckError,
        check_task_template,
        run_in_container,
        run_locally,
    )
    from roost.types.context import TypeContext
    from roost.types.dataset_handlers import (
        DatasetHandler,
        StructuredDatasetDecoder,
        StructuredDatasetEncoder,
        data_files,
        protocol_of,
    )
    from roost.types.engine import register_dataset_handler
    from roost.types.errors import (
        InvalidLiteralError,
        InvalidValueError,
        TypeTransformerError,
        UnsupportedTypeError,
    )
    from roost.types.structured import StructuredDataset
    from roost.types.transformer import TypeTransformer, unwrap_annotated
    from roost_core.plugins.loading import PluginProblem

_EXPORTS = {
    "ExecutionFailedError": "roost.errors",
    "WorkflowDefinitionError": "roost.errors",
    "as_timeout": "roost.options",
    "hookimpl": "roost.plugins.hookspecs",
    "RegisterCommand": "roost.plugins.hookspecs",
    "RegisterContextAttribute": "roost.plugins.hookspecs",
    "RegisterDatasetHandler": "roost.plugins.hookspecs",
    "RegisterImageBuilder": "roost.plugins.hookspecs",
    "RegisterTaskType": "roost.plugins.hookspecs",
    "RegisterTransformer": "roost.plugins.hookspecs",
    "PluginProblem": "roost_core.plugins.loading",
    "Task": "roost.tasks",
    "FunctionTask": "roost.tasks",
    "PluginTask": "roost.tasks",
    "TaskClass": "roost.tasks",
    "TaskOptions": "roost.tasks",
    "Interface": "roost.interface",
    "SerializationSettings": "roost.serialize",
    "TaskRunContext": "roost.context",
    "ContextAttribute": "roost.context",
    "MissingContextAttributeError": "roost.context",
    "current_context": "roost.context",
    "TaskLifecycleError": "roost.lifecycle",
    "TypeTransformer": "roost.types.transformer",
    "unwrap_annotated": "roost.types.transformer",
    "TypeContext": "roost.types.context",
    "InvalidLiteralError": "roost.types.errors",
    "InvalidValueError": "roost.types.errors",
    "TypeTransformerError": "roost.types.errors",
    "UnsupportedTypeError": "roost.types.errors",
    "StructuredDataset": "roost.types.structured",
    "StructuredDatasetEncoder": "roost.types.dataset_handlers",
    "StructuredDatasetDecoder": "roost.types.dataset_handlers",
    "DatasetHandler": "roost.types.dataset_handlers",
    "data_files": "roost.types.dataset_handlers",
    "protocol_of": "roost.types.dataset_handlers",
    "register_dataset_handler": "roost.types.engine",
    "check_task_template": "roost.testing",
    "run_locally": "roost.testing",
    "run_in_container": "roost.testing",
    "ContainerTaskError": "roost.testing",
    "TemplateCheckError": "roost.testing",
}

__all__ = [
    "ContainerTaskError",
    "ContextAttribute",
    "DatasetHandler",
    "ExecutionFailedError",
    "FunctionTask",
    "Interface",
    "InvalidLiteralError",
    "InvalidValueError",
    "MissingContextAttributeError",
    "PluginProblem",
    "PluginTask",
    "RegisterCommand",
    "RegisterContextAttribute",
    "RegisterDatasetHandler",
    "RegisterImageBuilder",
    "RegisterTaskType",
    "RegisterTransformer",
    "SerializationSettings",
    "StructuredDataset",
    "StructuredDatasetDecoder",
    "StructuredDatasetEncoder",
    "Task",
    "TaskClass",
    "TaskLifecycleError",
    "TaskOptions",
    "TaskRunContext",
    "TemplateCheckError",
    "TypeContext",
    "TypeTransformer",
    "TypeTransformerError",
    "UnsupportedTypeError",
    "WorkflowDefinitionError",
    "as_timeout",
    "check_task_template",
    "current_context",
    "data_files",
    "hookimpl",
    "protocol_of",
    "register_dataset_handler",
    "run_in_container",
    "run_locally",
    "unwrap_annotated",
]


__getattr__ = lazy_exports(__name__, _EXPORTS)
