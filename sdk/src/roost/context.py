"""What a running task knows about its run: ``current_context()``.

The same context is built by local runs, the engine's in-process handler and ``roost-execute`` in a
container, so task code sees the same thing everywhere.
"""

from __future__ import annotations

import contextvars
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from roost_core.storage import BlobNotFoundError

if TYPE_CHECKING:
    from roost.serialize import SerializationSettings
    from roost.types import TypeContext

SECRETS_ENV_PREFIX = "_FSEC_"
SECRETS_FOLDER = "/etc/flyte/secrets"


@dataclass
class Checkpoint:
    """Bytes a task saves as it goes, and the ones its previous attempt saved (to resume from)."""

    types: TypeContext
    prefix: str
    previous_prefix: str

    def write(self, data: bytes) -> None:
        """Save this attempt's checkpoint."""
        if self.prefix:
            self.types.storage.write(self.types.storage.join(self.prefix, "checkpoint"), data)

    def read(self) -> bytes | None:
        """The previous attempt's checkpoint, or None on a first attempt."""
        if not self.previous_prefix:
            return None
        try:
            return self.types.storage.read(self.types.storage.join(self.previous_prefix, "checkpoint"))
        except BlobNotFoundError:
            return None


class Secrets:
    """Secrets the task asked for with ``secret_requests``: from the environment, else from files."""

    def get(self, group: str, key: str = "") -> str:
        """The secret's value; a clear error names it when it was not provided."""
        env_name = f"{SECRETS_ENV_PREFIX}{group}_{key}".upper().replace("-", "_").rstrip("_")
        if env_name in os.environ:
            return os.environ[env_name]
        path = (
            Path(SECRETS_FOLDER, group.lower(), key.lower()) if key else Path(SECRETS_FOLDER, group.lower())
        )
        if path.is_file():
            return path.read_text().strip()
        raise KeyError(f"secret {group}/{key} is not available: set {env_name} or provide {path}")


@dataclass
class TaskRunContext:
    """The run a task is part of, and where its data goes. ``current_context()`` returns it."""

    types: TypeContext
    project: str = ""
    domain: str = ""
    execution_name: str = ""
    task_name: str = ""
    task_version: str = ""
    node_id: str = ""
    attempt: int = 0
    output_prefix: str = ""
    checkpoint_prefix: str = ""
    prev_checkpoint_prefix: str = ""
    serialization: SerializationSettings | None = None
    """How tasks a dynamic task calls are serialized (image, project, domain, version)."""
    decks: list[tuple[str, str]] = field(default_factory=list)
    logging: logging.Logger = field(default_factory=lambda: logging.getLogger("roost.task"))
    secrets: Secrets = field(default_factory=Secrets)

    @property
    def working_directory(self) -> Path:
        """A folder of this run the task may use for scratch files; removed when the run ends."""
        return Path(self.types.local_dir)

    @property
    def raw_output_prefix(self) -> str:
        """Where the task's files and data frames are uploaded."""
        return self.types.raw_output_prefix

    @property
    def checkpoint(self) -> Checkpoint:
        """Save and restore progress across retries."""
        return Checkpoint(self.types, self.checkpoint_prefix, self.prev_checkpoint_prefix)

    def add_deck(self, title: str, html: str) -> None:
        """Add an HTML section to the task's report (kept when the task is declared with ``deck=True``)."""
        self.decks.append((title, html))

    def deck_html(self) -> str:
        """The whole report as one HTML page."""
        from html import escape

        sections = "".join(f"<section><h2>{escape(title)}</h2>{body}</section>" for title, body in self.decks)
        return (
            f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(self.task_name)}</title>"
            f"</head><body>{sections}</body></html>"
        )


_CURRENT: contextvars.ContextVar[TaskRunContext | None] = contextvars.ContextVar(
    "roost_task_run", default=None
)


def current_context() -> TaskRunContext:
    """The context of the task running in this thread; outside a task, an error says so."""
    found = _CURRENT.get()
    if found is None:
        raise RuntimeError("current_context() is only available while a task runs")
    return found


@contextmanager
def running_task(ctx: TaskRunContext) -> Iterator[TaskRunContext]:
    """Make ``ctx`` the current context while a task's code runs."""
    token = _CURRENT.set(ctx)
    try:
        yield ctx
    finally:
        _CURRENT.reset(token)
