"""The errors the SDK raises on purpose; each message names the workflow, task, node or input at fault."""

from __future__ import annotations

from roost_core.errors import RoostError


class WorkflowDefinitionError(RoostError):
    """A workflow, task or launch plan is defined wrongly (found while it is being defined or compiled)."""


class TaskExecutionError(RoostError):
    """A task's code failed, or returned something its interface does not allow, while it ran."""


class ExecutionFailedError(RoostError):
    """A local execution ended without success; ``error`` is the engine's error for it."""

    def __init__(self, message: str, *, phase: str, error: object = None) -> None:
        super().__init__(message)
        self.phase = phase
        self.error = error


class ResumeError(RoostError):
    """A local run cannot resume from the run it names (``roost run --resume-from``); the message says why."""


class RemoteError(RoostError):
    """A call to the admin failed; the message says which call and what the admin answered."""


class RecoverableError(Exception):
    """Raise it from a task to fail the attempt in a way that may succeed when tried again.

    A task's ``retries`` are spent only on these (and on system errors, such as a lost process); any other
    exception fails the task at once, as in Flyte. flytekit calls it ``FlyteRecoverableException``, which
    Roost exports under that name too.
    """


FlyteRecoverableException = RecoverableError
"""flytekit's name for :class:`RecoverableError`."""
