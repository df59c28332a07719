"""Errors that cross the engine's boundaries: what failed, and whose fault it was."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass


class ErrorKind(enum.Enum):
    """Whose fault a failure is. User errors consume the task's retries, system errors a separate budget."""

    USER = "USER"
    SYSTEM = "SYSTEM"


@dataclass(frozen=True, slots=True)
class ExecutionError:
    """A failure of a node, task attempt or workflow, as recorded in state and events.

    ``code`` is a short machine-readable tag (``"OOMKilled"``, ``"USER:ValueError"``); ``message`` is for
    people and names the node, task or variable at fault.
    """

    code: str
    message: str
    kind: ErrorKind = ErrorKind.USER
    error_uri: str = ""

    def to_dict(self) -> dict[str, str]:
        """The plain-data form stored in execution state."""
        data = {"code": self.code, "message": self.message, "kind": self.kind.value}
        if self.error_uri:
            data["error_uri"] = self.error_uri
        return data

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> ExecutionError:
        """Inverse of :meth:`to_dict`."""
        return cls(
            code=data["code"],
            message=data["message"],
            kind=ErrorKind(data.get("kind", "USER")),
            error_uri=data.get("error_uri", ""),
        )


class RoostError(Exception):
    """Base class of every exception roost-core raises on purpose."""


class ConfigurationError(RoostError):
    """The engine was configured in a way it cannot run with (unknown handler, bad option)."""


class SettingsError(ConfigurationError):
    """Configuration that does not validate; ``problems`` holds one line per bad key: ``<key path>: <why>``,
    the key path starting at the engine section (``engine.handlers.local-process.kill_grace_period``)."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(dict.fromkeys(problems))
        super().__init__(join_problems(self.problems))


def join_problems(problems: Sequence[str]) -> str:
    """One problem as it is; several as a count and one indented line each."""
    unique = list(dict.fromkeys(problems))
    if len(unique) == 1:
        return unique[0]
    return f"{len(unique)} configuration errors:\n" + "\n".join(f"  {p}" for p in unique)


class UnknownTaskTypeError(ConfigurationError):
    """No installed handler serves a task type."""
