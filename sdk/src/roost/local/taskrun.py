"""Running one task attempt on literals, the same way in a local thread, a local process or a container.

:func:`run_task` reads the inputs, runs the task, and writes ``outputs.pb`` (or ``futures.pb`` for a
dynamic task, and ``deck.html`` when the task keeps a report), returning what happened as plain data that
crosses process boundaries.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from flyteidl.core import dynamic_job_pb2, literals_pb2

from roost.context import TaskRunContext
from roost.errors import RecoverableError, TaskExecutionError
from roost.lifecycle import TaskLifecycleError

if TYPE_CHECKING:
    from roost.serialize import SerializationSettings
    from roost.tasks import Task
    from roost.types import TypeContext
    from roost.types.memo import FrameMemo
    from roost_core.storage import Storage


@dataclass(frozen=True)
class TaskRun:
    """Where one attempt's data is, and who it is (all plain data: it is sent to worker processes)."""

    inputs_uri: str
    output_prefix: str
    raw_output_prefix: str
    checkpoint_prefix: str = ""
    prev_checkpoint_prefix: str = ""
    project: str = ""
    domain: str = ""
    execution_name: str = ""
    task_version: str = ""
    node_id: str = ""
    attempt: int = 0
    inputs: bytes | None = None
    """The inputs as serialized LiteralMap bytes, when they are not (only) at ``inputs_uri``."""


@dataclass(frozen=True)
class TaskOutcome:
    """How an attempt ended: success, or a failure with its code, message, kind and retryability."""

    ok: bool
    code: str = ""
    message: str = ""
    user_error: bool = True
    retryable: bool = True


def run_task(
    task: Task,
    run: TaskRun,
    storage: Storage,
    work_dir: Path,
    serialization: SerializationSettings | None = None,
    frames: FrameMemo | None = None,
    inputs: literals_pb2.LiteralMap | None = None,
) -> TaskOutcome:
    """Run ``task`` for one attempt; never raises for failures of the task's own code.

    ``frames`` lets dataframes pass in memory between tasks of a run in this process; ``inputs``, when
    given, are used instead of reading them.
    """
    from roost.types import TypeContext

    work_dir.mkdir(parents=True, exist_ok=True)
    with TypeContext(storage, run.raw_output_prefix, work_dir=work_dir, frames=frames) as types:
        ctx = _run_context(task, run, types, serialization)
        result = _dispatch(task, run, storage, ctx, inputs)
        if isinstance(result, TaskOutcome):
            return result
        if result is None:
            pass  # the task leaves its outputs to another process (an MPI rank other than 0)
        elif isinstance(result, dynamic_job_pb2.DynamicJobSpec):
            storage.write_proto(storage.join(run.output_prefix, "futures.pb"), result)
        else:
            storage.write_proto(storage.join(run.output_prefix, "outputs.pb"), result)
        if task.options.deck and ctx.decks:
            storage.write(storage.join(run.output_prefix, "deck.html"), ctx.deck_html().encode())
        return TaskOutcome(True)


def run_task_in_memory(
    task: Task,
    run: TaskRun,
    storage: Storage,
    work_dir: Path,
    inputs: literals_pb2.LiteralMap,
    serialization: SerializationSettings | None = None,
    frames: FrameMemo | None = None,
) -> TaskOutcome | literals_pb2.LiteralMap:
    """Run a task that is neither dynamic nor keeps a report on in-memory inputs: its outputs, or a failure.

    Nothing is written to ``run.output_prefix`` (what the task writes itself, files and checkpoints, is).
    """
    from roost.types import TypeContext

    with TypeContext(storage, run.raw_output_prefix, work_dir=work_dir, frames=frames) as types:
        result = _dispatch(task, run, storage, _run_context(task, run, types, serialization), inputs)
    if isinstance(result, dynamic_job_pb2.DynamicJobSpec):  # a plugin task class that compiles workflows
        return TaskOutcome(False, "DynamicInMap", f"{task.label} is dynamic", retryable=False)
    if result is None:  # a plugin task class that leaves its outputs to other processes
        return TaskOutcome(False, "OutputsMissing", f"{task.label} returned no outputs", retryable=False)
    return result


def _run_context(
    task: Task, run: TaskRun, types: TypeContext, serialization: SerializationSettings | None
) -> TaskRunContext:
    return TaskRunContext(
        types,
        project=run.project,
        domain=run.domain,
        execution_name=run.execution_name,
        task_name=task.name,
        task_version=run.task_version,
        node_id=run.node_id,
        attempt=run.attempt,
        output_prefix=run.output_prefix,
        checkpoint_prefix=run.checkpoint_prefix,
        prev_checkpoint_prefix=run.prev_checkpoint_prefix,
        serialization=serialization,
    )


def _dispatch(
    task: Task,
    run: TaskRun,
    storage: Storage,
    ctx: TaskRunContext,
    inputs: literals_pb2.LiteralMap | None,
) -> TaskOutcome | literals_pb2.LiteralMap | dynamic_job_pb2.DynamicJobSpec | None:
    """The task's result on its inputs (None when it leaves its outputs to another process), or the failure of its
    code (as an outcome, never raised)."""
    try:
        if inputs is None:
            inputs = literals_pb2.LiteralMap()
            if run.inputs is not None:
                inputs.ParseFromString(run.inputs)
            else:
                inputs = storage.read_proto(run.inputs_uri, literals_pb2.LiteralMap)
        result: literals_pb2.LiteralMap | dynamic_job_pb2.DynamicJobSpec | None = task.dispatch(ctx, inputs)
    except TaskExecutionError as exc:
        return TaskOutcome(False, "TaskOutputsInvalid", str(exc), retryable=False)
    except TaskLifecycleError as exc:  # the plugin's task class failed around the user's code
        return TaskOutcome(False, exc.code, _lifecycle_error(exc), user_error=False, retryable=True)
    except RecoverableError as exc:  # the task asks for another attempt
        return TaskOutcome(False, "USER:Recoverable", _user_error(task, exc), retryable=True)
    except Exception as exc:  # the task's own code failed: that is the outcome, not a crash
        # As in Flyte, only a RecoverableError (or a system error) spends the task's retries.
        return TaskOutcome(False, f"USER:{type(exc).__name__}", _user_error(task, exc), retryable=False)
    return result


def _user_error(task: Task, exc: BaseException) -> str:
    """``task 'x' raised ValueError: ...`` followed by the traceback of the task's code."""
    frames = traceback.extract_tb(exc.__traceback__)
    user_frames = [f for f in frames if "/roost/" not in f.filename.replace("\\", "/")] or frames
    trace = "".join(traceback.format_list(user_frames))
    return f"{task.label} raised {type(exc).__name__}: {exc}\n{trace}".rstrip()


def _lifecycle_error(exc: TaskLifecycleError) -> str:
    """The message, followed by the traceback of the plugin code that failed."""
    cause = exc.__cause__
    if cause is None:
        return str(exc)
    return f"{exc}\n{''.join(traceback.format_exception(cause))}".rstrip()
