"""The SDK side of the sample plugin (entry point ``roost.sdk``)."""

from __future__ import annotations

from roost.extend import (
    RegisterContextAttribute,
    RegisterDatasetHandler,
    RegisterTaskType,
    hookimpl,
)
from roost_sample_plugin.frames import (
    GridJsonLinesDecoder,
    GridJsonLinesEncoder,
    GridTableDecoder,
    GridTableEncoder,
)
from roost_sample_plugin.ledger import LEDGER, Audited, AuditedTask


@hookimpl
def roost_task_types(register: RegisterTaskType) -> None:
    """``@task(task_config=Audited(...))`` makes an ``AuditedTask``."""
    register(Audited, AuditedTask)


@hookimpl
def roost_structured_dataset_handlers(register: RegisterDatasetHandler) -> None:
    """``Grid`` frames: JSON lines on any blob store, rows at ``gridtable://``."""
    register(GridJsonLinesEncoder())
    register(GridJsonLinesDecoder())
    register(GridTableEncoder())
    register(GridTableDecoder())


@hookimpl
def roost_context_attributes(register: RegisterContextAttribute) -> None:
    """``current_context().ledger``."""
    register(LEDGER)
