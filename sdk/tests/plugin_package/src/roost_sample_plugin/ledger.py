"""``Audited``: tasks that get an audit ledger, opened before the function runs and closed after it.

::

    @task(task_config=Audited(book="/tmp/audit.log"))
    def total(grid: Grid) -> int:
        LEDGER.get().record(f"summing {len(grid)} rows")  # typed; current_context().ledger works too
        return sum(grid.data["n"])
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roost.extend import ContextAttribute, PluginTask, SerializationSettings, TaskRunContext


class AuditLedger:
    """Lines appended to a file, one per event of the task; environment variables in the path are expanded
    where the task runs."""

    def __init__(self, path: str, task: str) -> None:
        self.path = Path(os.path.expandvars(path))
        self.task = task
        self.closed = False
        self.record("opened")

    def record(self, event: str) -> None:
        """Append ``<task>: <event>``."""
        if self.closed:
            raise RuntimeError(f"the audit ledger {self.path} is closed")
        with self.path.open("a") as book:
            book.write(f"{self.task}: {event}\n")

    def close(self) -> None:
        """Record the end; the ledger takes nothing more."""
        self.record("closed")
        self.closed = True


LEDGER: ContextAttribute[AuditLedger] = ContextAttribute(
    "ledger", AuditLedger, doc="the audit ledger of tasks declared with task_config=Audited(...)"
)


@dataclass(frozen=True)
class Audited:
    """Audit a task into the ledger file ``book``."""

    book: str
    level: int = 1
    tags: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def from_custom(cls, custom: dict[str, Any]) -> Audited:
        """The config as the engine side would read it back from ``TaskTemplate.custom``."""
        return cls(custom["book"], int(custom["level"]), tuple(custom["tags"]))


class AuditedTask(PluginTask[Audited]):
    """A Python task whose attempts are recorded in an audit ledger."""

    def custom(self, settings: SerializationSettings) -> dict[str, Any]:
        return {
            "book": self.task_config.book,
            "level": self.task_config.level,
            "tags": list(self.task_config.tags),
        }

    def pre_execute(self, ctx: TaskRunContext) -> TaskRunContext:
        ledger = AuditLedger(self.task_config.book, self.short_name)
        ctx.cleanup.callback(ledger.close)
        ctx.set(LEDGER, ledger)
        return ctx

    def post_execute(self, ctx: TaskRunContext, outputs: Any) -> Any:
        ctx.get(LEDGER).record(f"returned {outputs!r}")
        return outputs
