"""Running one task attempt on literals, the same way in a local thread, a local process or a container.

:func:`run_task` reads the inputs, runs the task, and writes ``outputs.pb`` (or ``futures.pb`` for a
dynamic task, and ``deck.html`` when the task keeps a report), returning what happened as plain data that
crosses process boundaries.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flyteidl.core import dynamic_job_pb2, literals_pb2

from roost.context import TaskRunContext
from roost.errors import RecoverableError, TaskExecutionError
from roost.lifecycle import TaskLifecycleError, is_plain, run_plain
from roost.types.errors import TypeTransformerError

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

    ``work_dir`` is made when the task first needs a local file; ``frames`` lets dataframes pass in memory
    between tasks of a run in this process; ``inputs``, when given, are used instead of reading them.
    """
    from roost.types import TypeContext

    with TypeContext(storage, run.raw_output_prefix, work_dir=work_dir, frames=frames) as types:
        ctx = _run_context(task, run, types, serialization)
        result = _dispatch(task, ctx, inputs if inputs is not None else lambda: _read_inputs(run, storage))
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


@dataclass(frozen=True)
class BatchRun:
    """Several attempts of one task, run one after another in this process on inputs in memory (the first
    attempts of map indices): who they are, and where each one's data goes."""

    project: str
    domain: str
    execution_name: str
    task_version: str
    node_ids: Sequence[str]
    output_prefixes: Sequence[str]
    raw_output_prefix: str
    """Shared by the batch's attempts (uploads get names of their own)."""


class BatchRunner:
    """Runs a task that is neither dynamic nor keeps a report on the inputs of many attempts, one after another
    in this process (the first attempts of a map's indices), prepared once per map node: the task's plain form
    and its converters are looked up here, not per batch or per attempt."""

    def __init__(
        self,
        task: Task,
        work_dir: Path,
        serialization: SerializationSettings | None = None,
        frames: FrameMemo | None = None,
    ) -> None:
        from roost.types.context import TypeContext

        self._types = TypeContext
        self.task = task
        self.work_dir = work_dir
        self.serialization = serialization
        self.frames = frames
        self.plain = _PlainTask.of(task)

    def run(
        self,
        batch: BatchRun,
        storage: Storage,
        inputs: Sequence[literals_pb2.LiteralMap],
        deadline: float,
    ) -> list[TaskOutcome | literals_pb2.LiteralMap]:
        """Run the task once per element of ``inputs``, in order, each attempt with a context of its own: each
        one's outputs, or its failure. No attempt starts after ``deadline`` (a :func:`time.perf_counter`
        value) but the first; the result then is shorter.

        Nothing is written to the output prefixes (what the task writes itself, files and checkpoints, is).
        """
        task, plain, serialization = self.task, self.plain, self.serialization
        results: list[TaskOutcome | literals_pb2.LiteralMap] = []
        clock = time.perf_counter
        with self._types(
            storage, batch.raw_output_prefix, work_dir=self.work_dir, frames=self.frames
        ) as types:
            # What the batch's attempts share; each gets a context of its own (for_index).
            shared = TaskRunContext(
                types,
                project=batch.project,
                domain=batch.domain,
                execution_name=batch.execution_name,
                task_name=task.name,
                task_version=batch.task_version,
                serialization=serialization,
            )
            for node_id, output_prefix, values in zip(
                batch.node_ids, batch.output_prefixes, inputs, strict=True
            ):
                if results and clock() > deadline:
                    break
                ctx = shared.for_index(node_id, output_prefix)
                result = _dispatch(task, ctx, values, plain)
                # A plugin task class compiling workflows, or one leaving its outputs to other processes.
                if isinstance(result, dynamic_job_pb2.DynamicJobSpec):
                    result = TaskOutcome(False, "DynamicInMap", f"{task.label} is dynamic", retryable=False)
                elif result is None:
                    result = TaskOutcome(
                        False, "OutputsMissing", f"{task.label} returned no outputs", retryable=False
                    )
                results.append(result)
        return results


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


def _read_inputs(run: TaskRun, storage: Storage) -> literals_pb2.LiteralMap:
    if run.inputs is not None:
        inputs = literals_pb2.LiteralMap()
        inputs.ParseFromString(run.inputs)
        return inputs
    return storage.read_proto(run.inputs_uri, literals_pb2.LiteralMap)


class _PlainTask:
    """A task whose class changes nothing of :meth:`Task.dispatch <roost.tasks.Task.dispatch>` and its steps,
    with the conversions of its inputs and outputs looked up once: what running it on many inputs (the
    indices of a map) repeats is then the function call and the conversions themselves."""

    def __init__(self, task: Task) -> None:
        from roost.tasks import FunctionTask
        from roost.types.engine import default_engine

        engine = default_engine()
        self.task = task
        self.label = label = task.label
        self.readers = [
            (name, engine.python_reader(python_type), f"{label} input {name!r}:")
            for name, python_type in task.interface.inputs.items()
        ]
        self.fillers = [
            (name, engine.literal_filler(python_type), f"{label} output {name!r}:")
            for name, python_type in task.interface.outputs.items()
        ]
        interface = task.interface
        # The output's name when there is one, returned as it is (not in a tuple): nothing to unpack.
        single = len(interface.outputs) == 1 and interface.output_tuple is None
        self.one_output = next(iter(interface.outputs)) if single else ""
        # A function task's execute() calls its function with the inputs: call the function itself.
        self.call: Callable[..., Any] = (
            task.fn
            if isinstance(task, FunctionTask)
            and type(task).execute is FunctionTask.execute
            and "execute" not in task.__dict__
            else task.execute
        )

    @staticmethod
    def of(task: Task) -> _PlainTask | None:
        """The plain form of ``task``, or None when its class changes how an attempt runs."""
        from roost.tasks import Task

        cls = type(task)
        if not is_plain(task) or any(
            getattr(cls, method) is not getattr(Task, method) or method in getattr(task, "__dict__", {})
            for method in ("dispatch", "inputs_from_literals", "outputs_to_literals")
        ):
            return None
        return _PlainTask(task)

    def dispatch(self, ctx: TaskRunContext, inputs: literals_pb2.LiteralMap) -> literals_pb2.LiteralMap:
        """What ``task.dispatch(ctx, inputs)`` does."""
        return run_plain(self.task, ctx, self._run, inputs)

    def _run(self, ctx: TaskRunContext, inputs: literals_pb2.LiteralMap) -> literals_pb2.LiteralMap:
        task = self.task
        given = inputs.literals
        values: dict[str, Any] = {}
        for name, read, where in self.readers:
            if name not in given:  # defaults and optional inputs fill the gaps
                values = task.inputs_from_literals(ctx, inputs)
                break
            try:
                values[name] = read(ctx.types, given[name])
            except TypeTransformerError as exc:
                raise TaskExecutionError(str(exc.prefixed(where))) from None
        result = self.call(**values)
        if self.one_output:
            unpacked = {self.one_output: result}
        else:
            try:
                unpacked = task.interface.unpack_outputs(result, what=self.label)
            except TypeError as exc:
                raise TaskExecutionError(str(exc)) from None
        outputs = literals_pb2.LiteralMap()
        literals = outputs.literals
        for name, fill, where in self.fillers:
            try:
                fill(ctx.types, unpacked[name], literals[name])
            except TypeTransformerError as exc:
                raise TaskExecutionError(str(exc.prefixed(where))) from None
        return outputs


def _dispatch(
    task: Task,
    ctx: TaskRunContext,
    inputs: literals_pb2.LiteralMap | Callable[[], literals_pb2.LiteralMap],
    plain: _PlainTask | None = None,
) -> TaskOutcome | literals_pb2.LiteralMap | dynamic_job_pb2.DynamicJobSpec | None:
    """The task's result on its inputs (None when it leaves its outputs to another process), or the failure of its
    code (as an outcome, never raised). ``inputs`` may be a function reading them (a failure to read them is
    the attempt's); ``plain``, the task's plain form, runs it when given."""
    try:
        if callable(inputs):
            inputs = inputs()
        result: literals_pb2.LiteralMap | dynamic_job_pb2.DynamicJobSpec | None = (
            plain.dispatch(ctx, inputs) if plain is not None else task.dispatch(ctx, inputs)
        )
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
