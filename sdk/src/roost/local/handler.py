"""The engine handler that runs SDK tasks inside this process: in threads, or in forked worker processes.

It is what makes ``roost run`` and calling a workflow run tasks in parallel on the same engine the server
uses. Each attempt runs in the pool; the handler reports RUNNING until the attempt is done (its completion
wakes the execution at once) and then success or failure.
"""

from __future__ import annotations

import concurrent.futures
import importlib
import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flyteidl.core import literals_pb2, tasks_pb2

from roost.local.taskrun import BatchRun, BatchRunner, TaskOutcome, TaskRun, run_task
from roost_core.errors import ErrorKind
from roost_core.handler import InlineBatch, InlineRunner, TaskContext, TaskHandler, Transition

if TYPE_CHECKING:
    from roost.serialize import SerializationSettings
    from roost.tasks import Task
    from roost.types.memo import FrameMemo

HANDLER_NAME = "roost-local"

# Tasks of the run, for forked worker processes: set before the pool forks, inherited by the workers.
_FORKED_TASKS: dict[str, Task] = {}


class InProcessHandler(TaskHandler):
    """Runs the SDK tasks of one local run; ``processes=True`` runs them in forked workers (CPU-bound code)."""

    name = HANDLER_NAME
    produces_futures = True

    def __init__(
        self,
        tasks: Mapping[str, Task],
        work_dir: Path,
        *,
        processes: bool = False,
        max_workers: int | None = None,
        serialization: SerializationSettings | None = None,
        frames: FrameMemo | None = None,
    ) -> None:
        self._tasks = dict(tasks)
        self._work_dir = work_dir
        self._processes = processes
        self._serialization = serialization
        self._frames = None if processes else frames
        workers = max_workers or min(32, (os.cpu_count() or 1) * (1 if processes else 8))
        if processes:
            _FORKED_TASKS.clear()
            _FORKED_TASKS.update(self._tasks)
            self._pool: concurrent.futures.Executor = concurrent.futures.ProcessPoolExecutor(
                workers, mp_context=multiprocessing.get_context("fork")
            )
        else:
            self._pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="roost-task")
        self._futures: dict[str, concurrent.futures.Future[TaskOutcome]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(ctx: TaskContext) -> str:
        node = ctx.task_execution_id.node_execution_id
        return f"{node.execution_id.name}/{node.node_id}/{ctx.attempt}"

    def handle(self, ctx: TaskContext) -> Transition:
        """Start the attempt in the pool, or report on it."""
        key = self._key(ctx)
        inline = None
        with self._lock:
            future = self._futures.get(key)
            if future is None:
                task = self._tasks.get(ctx.task.id.name) or find_task(ctx.task.id.name)
                if task is None:
                    return Transition.failure(
                        "TaskNotFound",
                        f"task {ctx.task.id.name!r} is not defined in this process",
                        kind=ErrorKind.SYSTEM,
                        retryable=False,
                    )
                self._tasks[task.name] = task
                if ctx.exclusive and not self._processes:
                    inline = task
                else:
                    future = self._submit(task, ctx)
                    self._futures[key] = future
                    future.add_done_callback(_notifier(ctx.notify))
        if inline is not None:
            # Nothing else could run meanwhile: skip the hand-off to a worker thread. Outside the lock, since
            # an eager task's children use this handler while it runs.
            return _transition(run_task(*self._arguments(inline, ctx)))
        assert future is not None
        if not future.done():
            return Transition.running()
        with self._lock:
            self._futures.pop(key, None)
        return _transition(future.result())

    def inline_runner(self, task: tasks_pb2.TaskTemplate) -> InlineRunner | None:
        """Map indices of plain tasks run in the engine's thread, a batch at a time, on their inputs and outputs
        in memory (dynamic and eager tasks, tasks keeping a report, and runs in worker processes: ordinary
        attempts)."""
        from roost.eager_workflows import EagerTask
        from roost.tasks import DynamicTask

        found = self._tasks.get(task.id.name) or find_task(task.id.name)
        if (
            self._processes
            or found is None
            or isinstance(found, DynamicTask | EagerTask)
            or found.options.deck
        ):
            return None
        runner = BatchRunner(found, self._work_dir, self._serialization, self._frames)
        version = task.id.version

        def run(batch: InlineBatch) -> list[literals_pb2.LiteralMap | Transition]:
            execution = batch.execution_id
            where = BatchRun(
                project=execution.project,
                domain=execution.domain,
                execution_name=execution.name,
                task_version=version,
                node_ids=batch.node_ids,
                output_prefixes=batch.output_prefixes,
                raw_output_prefix=batch.raw_output_prefix,
            )
            outcomes = runner.run(where, batch.storage, batch.inputs, batch.deadline)
            return [_transition(o) if isinstance(o, TaskOutcome) else o for o in outcomes]

        return run

    @staticmethod
    def _task_run(ctx: TaskContext, *, with_inputs: bool) -> TaskRun:
        execution = ctx.task_execution_id.node_execution_id.execution_id
        return TaskRun(
            inputs_uri=ctx.inputs_uri,
            output_prefix=ctx.output_prefix,
            raw_output_prefix=ctx.raw_output_prefix,
            checkpoint_prefix=ctx.checkpoint_prefix,
            prev_checkpoint_prefix=ctx.prev_checkpoint_prefix,
            project=execution.project,
            domain=execution.domain,
            execution_name=execution.name,
            task_version=ctx.task.id.version,
            node_id=ctx.node_id,
            attempt=ctx.attempt,
            inputs=ctx.read_inputs().SerializeToString(deterministic=True) if with_inputs else None,
        )

    def _arguments(self, task: Task, ctx: TaskContext) -> tuple[Any, ...]:
        """``run_task``'s arguments for this process (the inputs go as the message, not as bytes)."""
        run = self._task_run(ctx, with_inputs=False)
        return (task, run, ctx.storage, self._work_dir, self._serialization, self._frames, ctx.read_inputs())

    def _submit(self, task: Task, ctx: TaskContext) -> concurrent.futures.Future[TaskOutcome]:
        if self._processes:
            run = self._task_run(ctx, with_inputs=True)
            return self._pool.submit(_run_forked, task.name, run, self._work_dir, self._serialization)
        return self._pool.submit(run_task, *self._arguments(task, ctx))

    def register_tasks(self, tasks: Mapping[str, Task]) -> None:
        """Tasks that executions started later in the run use (an eager workflow's children)."""
        with self._lock:
            for name, task in tasks.items():
                self._tasks.setdefault(name, task)

    def abort(self, ctx: TaskContext) -> None:
        """Cancel the attempt if it has not started; a running thread finishes but its result is dropped
        (an eager workflow's children are aborted)."""
        from roost.eager_workflows import abort_local_children

        with self._lock:
            future = self._futures.pop(self._key(ctx), None)
        if future is not None:
            future.cancel()
        execution = ctx.task_execution_id.node_execution_id.execution_id
        parent = f"{execution.project}/{execution.domain}/{execution.name}/{ctx.node_id}"
        abort_local_children(execution.name, parent, "the eager parent was aborted")

    def close(self) -> None:
        """Stop the pool (waiting for running attempts)."""
        self._pool.shutdown(wait=True, cancel_futures=True)


def find_task(name: str) -> Task | None:
    """The task called ``name`` (``module.function``), from its module: how tasks that a dynamic task
    generated are found, as ``roost-execute`` finds every task."""
    from roost.tasks import Task

    module_name, _, attribute = name.rpartition(".")
    module = sys.modules.get(module_name)
    if module is None:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            return None
    found = getattr(module, attribute, None)
    return found if isinstance(found, Task) else None


def _transition(outcome: TaskOutcome) -> Transition:
    if outcome.ok:
        return Transition.success()
    return Transition.failure(
        outcome.code,
        outcome.message,
        kind=ErrorKind.USER if outcome.user_error else ErrorKind.SYSTEM,
        retryable=outcome.retryable,
    )


def _notifier(notify: Callable[[], None]) -> Callable[[Any], None]:
    return lambda _future: notify()


def _run_forked(
    task_name: str, run: TaskRun, work_dir: Path, serialization: SerializationSettings | None
) -> TaskOutcome:
    """The worker-process side: find the task the parent had, and run it with this process's storage."""
    from roost.plugins.storage import sdk_storage

    storage = sdk_storage()
    task = _FORKED_TASKS.get(task_name) or find_task(task_name)
    if task is None:
        return TaskOutcome(
            False,
            "TaskNotFound",
            f"task {task_name!r} is not defined in the worker process",
            user_error=False,
            retryable=False,
        )
    return run_task(task, run, storage, work_dir, serialization)
