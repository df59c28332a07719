"""One task attempt's life around the user's function: ``pre_execute``, the function, ``post_execute``, cleanups.

The same steps run in a local run's thread or worker process, in ``roost-execute`` in a container, and when a
task is called directly, so a plugin task class prepares the same way everywhere:

1. ``task.pre_execute(ctx)`` with ``ctx`` current, before any input is converted (a Spark task starts its
   session here, so that its data frame decoders find it); it returns the context the rest runs with;
2. the inputs are converted and the function runs, with that context current;
3. ``task.post_execute(ctx, outputs)`` sees (and may replace) the function's result before it is converted;
4. the outputs are converted;
5. ``ctx.cleanup`` is closed, whatever happened.

A failure of steps 1, 3 or 5 is the plugin's, not the user's: a SYSTEM error (:class:`TaskLifecycleError`),
retried on the system budget. A :class:`~roost.errors.RecoverableError` raised there keeps its meaning.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from roost.context import TaskRunContext, running_task
from roost.errors import RecoverableError
from roost_core.errors import RoostError

if TYPE_CHECKING:
    from roost.tasks import Task

R = TypeVar("R")
A = TypeVar("A")
logger = logging.getLogger("roost.task")


class TaskLifecycleError(RoostError):
    """A task class's ``pre_execute``, ``post_execute`` or one of the attempt's cleanups failed."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code
        """``SYSTEM:PreExecuteFailed``, ``SYSTEM:PostExecuteFailed`` or ``SYSTEM:CleanupFailed``."""


@contextmanager
def task_attempt(task: Task, ctx: TaskRunContext) -> Iterator[TaskRunContext]:
    """Run ``pre_execute``, then the block with the context it returned made current, then the cleanups."""
    succeeded = False
    try:
        if _overrides(task, "pre_execute"):
            with running_task(ctx):
                prepared = _guarded(task, "pre_execute", "PreExecuteFailed", lambda: task.pre_execute(ctx))
        else:  # a plain task: nothing to guard (this runs for every index of a local map)
            prepared = ctx
        if not isinstance(prepared, TaskRunContext):
            raise TaskLifecycleError(
                f"{task.label}: {type(task).__name__}.pre_execute returned a {type(prepared).__name__}, "
                "not the TaskRunContext to run with",
                code="SYSTEM:PreExecuteFailed",
            )
        with running_task(prepared):
            yield prepared
        succeeded = True
    finally:
        _close(task, ctx, succeeded=succeeded)


def is_plain(task: Task) -> bool:
    """Whether the task's class keeps the base class's ``pre_execute`` and ``post_execute`` (nothing to prepare
    or guard: :func:`run_plain` then runs an attempt)."""
    return not _overrides(task, "pre_execute") and not _overrides(task, "post_execute")


def run_plain(task: Task, ctx: TaskRunContext, body: Callable[[TaskRunContext, A], R], argument: A) -> R:
    """:func:`task_attempt` around ``body(ctx, argument)`` for a task that :func:`is_plain`, as one call (it
    runs for every index of a local map)."""
    with running_task(ctx):  # entered once for the body and the cleanups
        try:
            result = body(ctx, argument)
        except BaseException:
            _close_current(task, ctx, succeeded=False)
            raise
        _close_current(task, ctx, succeeded=True)
        return result


def post_execute(task: Task, ctx: TaskRunContext, outputs: Any) -> Any:
    """``task.post_execute(ctx, outputs)``, its failures reported as the plugin's."""
    if not _overrides(task, "post_execute"):
        return outputs
    return _guarded(task, "post_execute", "PostExecuteFailed", lambda: task.post_execute(ctx, outputs))


def _overrides(task: Task, method: str) -> bool:
    """Whether the task's class has its own ``method`` (a plugin's), not the base class's pass-through."""
    from roost.tasks import Task

    return getattr(type(task), method) is not getattr(Task, method) or method in getattr(task, "__dict__", {})


def _guarded(task: Task, method: str, code: str, call: Callable[[], R]) -> R:
    try:
        return call()
    except (RecoverableError, TaskLifecycleError):
        raise
    except Exception as exc:
        raise TaskLifecycleError(
            f"{task.label}: {type(task).__name__}.{method} failed: {type(exc).__name__}: {exc}",
            code=f"SYSTEM:{code}",
        ) from exc


def _close(task: Task, ctx: TaskRunContext, *, succeeded: bool) -> None:
    """Close the attempt's cleanups; when the attempt already failed, a cleanup failure is only logged, so the
    first error stays the one reported."""
    with running_task(ctx):
        _close_current(task, ctx, succeeded=succeeded)


def _close_current(task: Task, ctx: TaskRunContext, *, succeeded: bool) -> None:
    """:func:`_close` with ``ctx`` already the current context."""
    try:
        ctx.close_cleanup()
    except Exception as exc:
        message = f"{task.label}: a cleanup of the attempt failed: {type(exc).__name__}: {exc}"
        if not succeeded:
            logger.warning("%s", message)
            return
        raise TaskLifecycleError(message, code="SYSTEM:CleanupFailed") from exc
