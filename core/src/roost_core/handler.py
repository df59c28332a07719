"""The task handler contract: what a handler implements, what it is given, and what it returns.

A handler runs one task type (or several). The engine calls :meth:`TaskHandler.handle` once per round for
every task attempt that is not yet terminal. ``handle`` must not block: it starts work, or looks at work it
started earlier, and returns a :class:`Transition`. The engine may call it again with the same state (after
a crash, or a failed save), so it must be idempotent: creating something that already exists is success.

Whatever a handler needs to remember between rounds goes into ``Transition.state``, a small JSON-able
mapping that the engine persists with the execution and hands back as ``TaskContext.state``. That is what
lets a new engine process pick up a running task after a restart.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flyteidl.core import execution_pb2, identifier_pb2, literals_pb2, tasks_pb2, workflow_pb2

from roost_core.errors import ErrorKind, ExecutionError
from roost_core.storage import Storage

__all__ = [
    "InlineBatch",
    "InlineRunner",
    "TaskContext",
    "TaskHandler",
    "TaskLog",
    "TaskPhase",
    "Transition",
]


class TaskPhase(enum.IntEnum):
    """The phase a handler reports for one task attempt.

    The numbering follows the order a task moves through; ``SUCCESS`` and both failures are terminal.
    """

    NOT_READY = 1
    """Nothing was started yet; ask again later."""
    WAITING_FOR_RESOURCES = 2
    """Refused for now by a quota or a full queue; ask again later."""
    QUEUED = 3
    """Submitted, not yet started."""
    INITIALIZING = 4
    """Starting up: pulling an image, bringing up a cluster."""
    RUNNING = 5
    """Running."""
    SUCCESS = 6
    """Finished; the outputs are at ``ctx.output_prefix``."""
    RETRYABLE_FAILURE = 7
    """Failed; another attempt may succeed."""
    PERMANENT_FAILURE = 8
    """Failed; no attempt will succeed."""

    @property
    def is_terminal(self) -> bool:
        """True for success and both failures."""
        return self >= TaskPhase.SUCCESS

    @property
    def is_failure(self) -> bool:
        """True for both failures."""
        return self >= TaskPhase.RETRYABLE_FAILURE


@dataclass(frozen=True, slots=True)
class TaskLog:
    """A link to a task attempt's logs or a console page."""

    name: str
    uri: str

    def to_proto(self) -> execution_pb2.TaskLog:
        """The flyteidl ``core.TaskLog`` for events."""
        return execution_pb2.TaskLog(name=self.name, uri=self.uri)


@dataclass(frozen=True, slots=True)
class Transition:
    """What a handler reports from one call of :meth:`TaskHandler.handle`.

    ``version`` distinguishes updates within one phase (a new log link, a changed reason) so that each
    becomes its own event. ``state`` replaces the persisted plugin state; ``None`` keeps it unchanged.
    ``wake_after`` asks the engine to look again within that many seconds; handlers that can tell when
    something changed call ``ctx.notify()`` instead.

    ``parkable`` says the attempt's work runs outside this process (a remote job) and ``state`` holds all a
    later round needs to find it: an execution whose attempts in flight all said so, with a ``wake_after``,
    may be parked until then (its worker's slot is freed); ``ctx.notify()`` still wakes it. Handlers that
    supervise a process of their own leave it False.
    """

    phase: TaskPhase
    version: int = 0
    state: Mapping[str, Any] | None = None
    reason: str = ""
    logs: tuple[TaskLog, ...] = ()
    error: ExecutionError | None = None
    wake_after: float | None = None
    custom_info: Mapping[str, Any] | None = None
    parkable: bool = False

    def __post_init__(self) -> None:
        if self.phase.is_failure and self.error is None:
            raise ValueError(f"a {self.phase.name} transition needs an error")

    @classmethod
    def queued(
        cls,
        *,
        state: Mapping[str, Any] | None = None,
        reason: str = "",
        version: int = 0,
        wake_after: float | None = None,
    ) -> Transition:
        """Submitted, not started."""
        return cls(TaskPhase.QUEUED, version, state, reason, wake_after=wake_after)

    @classmethod
    def running(
        cls,
        *,
        state: Mapping[str, Any] | None = None,
        reason: str = "",
        version: int = 0,
        logs: tuple[TaskLog, ...] = (),
        wake_after: float | None = None,
    ) -> Transition:
        """Running."""
        return cls(TaskPhase.RUNNING, version, state, reason, logs, wake_after=wake_after)

    @classmethod
    def success(
        cls, *, state: Mapping[str, Any] | None = None, logs: tuple[TaskLog, ...] = (), version: int = 0
    ) -> Transition:
        """Finished; the outputs were written to ``ctx.output_prefix``."""
        return cls(TaskPhase.SUCCESS, version, state, logs=logs)

    @classmethod
    def failure(
        cls,
        code: str,
        message: str,
        *,
        kind: ErrorKind = ErrorKind.USER,
        retryable: bool = True,
        state: Mapping[str, Any] | None = None,
        logs: tuple[TaskLog, ...] = (),
        error_uri: str = "",
    ) -> Transition:
        """Failed with ``message``; ``retryable`` picks between the two failure phases."""
        phase = TaskPhase.RETRYABLE_FAILURE if retryable else TaskPhase.PERMANENT_FAILURE
        error = ExecutionError(code, message, kind, error_uri)
        return cls(phase, 0, state, logs=logs, error=error)

    @classmethod
    def waiting_for_resources(
        cls, reason: str, *, state: Mapping[str, Any] | None = None, wake_after: float | None = 1.0
    ) -> Transition:
        """Refused for now (quota, rate limit); the engine asks again."""
        return cls(TaskPhase.WAITING_FOR_RESOURCES, 0, state, reason, wake_after=wake_after)


@dataclass(slots=True)
class TaskContext:
    """Everything a handler is given about one task attempt.

    The URIs follow Flyte's container contract: ``inputs_uri`` is the ``inputs.pb`` LiteralMap;
    ``output_prefix`` receives ``outputs.pb``, ``error.pb`` or ``futures.pb``.
    """

    task: tasks_pb2.TaskTemplate
    task_execution_id: identifier_pb2.TaskExecutionIdentifier
    node_id: str
    """The node's unique id within the execution (nested nodes carry their parents' ids)."""
    storage: Storage
    inputs_uri: str
    output_prefix: str
    raw_output_prefix: str
    checkpoint_prefix: str
    prev_checkpoint_prefix: str
    state: Mapping[str, Any] = field(default_factory=dict)
    """The plugin state the handler returned last time; empty on the first call of an attempt."""
    interruptible: bool = False
    """True when the attempt may run on preemptible capacity."""
    exclusive: bool = False
    """True when nothing else of the execution runs or waits to be visited, and the attempt has no time
    limit: a handler running work in its own process may then finish it inside ``handle``."""
    overrides: workflow_pb2.TaskNodeOverrides | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    """The task's environment from the execution: its identity (``FLYTE_INTERNAL_*``), the container's and
    the execution's variables, and the execution's credentials. Handlers add the shared
    :class:`~roost_core.settings.TaskEnvironment` they were built with."""
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    notify: Callable[[], None] = lambda: None
    """Wakes the owning execution so it is evaluated at once; safe to call from any thread."""
    _inputs: literals_pb2.LiteralMap | None = None

    @property
    def attempt(self) -> int:
        """The retry attempt, from 0."""
        return int(self.task_execution_id.retry_attempt)

    @property
    def outputs_uri(self) -> str:
        """Where the outputs of a successful attempt go."""
        return self.storage.join(self.output_prefix, "outputs.pb")

    @property
    def error_uri(self) -> str:
        """Where a task process writes its ``ErrorDocument``."""
        return self.storage.join(self.output_prefix, "error.pb")

    @property
    def futures_uri(self) -> str:
        """Where a dynamic task writes its ``DynamicJobSpec``."""
        return self.storage.join(self.output_prefix, "futures.pb")

    def read_inputs(self) -> literals_pb2.LiteralMap:
        """The task's inputs (read once, then kept)."""
        if self._inputs is None:
            self._inputs = self.storage.read_proto(self.inputs_uri, literals_pb2.LiteralMap)
        return self._inputs

    def write_outputs(self, outputs: literals_pb2.LiteralMap) -> None:
        """Write the outputs of a successful attempt, for handlers that produce them in-process."""
        self.storage.write_proto(self.outputs_uri, outputs)


@dataclass(frozen=True, slots=True)
class InlineBatch:
    """First attempts of consecutive indices of one array node, for a handler that runs them to their end at
    once, one after another.

    See :meth:`TaskHandler.inline_runner`: the engine gives the inputs in memory and takes the outputs back in
    memory, so a trivial index costs about a function call, not an engine attempt with its handler rounds.
    """

    task: tasks_pb2.TaskTemplate
    execution_id: identifier_pb2.WorkflowExecutionIdentifier
    storage: Storage
    node_ids: Sequence[str]
    """Each index's unique id within the execution (``n0-0-n3``: node, node attempt, index)."""
    inputs: Sequence[literals_pb2.LiteralMap]
    """Each index's inputs."""
    output_prefixes: Sequence[str]
    """Each index's attempt folder (its checkpoints go under it)."""
    raw_output_prefix: str
    """Where the batch's indices upload files (shared: uploads get names of their own)."""
    deadline: float
    """A :func:`time.perf_counter` value after which the runner starts no further index: the engine waits
    for the runner in its own thread."""
    context: Callable[[int], TaskContext]
    """The :class:`TaskContext` an ordinary first attempt of the batch's ``i``-th index would get (its
    identity, environment, inputs and output prefix), for runners that start a process per index."""


InlineRunner = Callable[[InlineBatch], Sequence[literals_pb2.LiteralMap | Transition | None]]
"""What :meth:`TaskHandler.inline_runner` returns."""


class TaskHandler(abc.ABC):
    """Runs tasks of one or more types. Subclass it and register a factory with ``roost_task_handlers``.

    An engine builds one instance, with the handler's validated settings, and it serves every execution the
    engine runs, from several threads: keep per-attempt data in ``Transition.state``, not on ``self``.
    """

    name: str = ""
    """How configuration refers to this handler; the engine sets it to the registered name."""
    state_version: int = 1
    """Bump it when the shape of ``Transition.state`` changes; ``ctx.state`` is empty on a mismatch."""
    produces_futures: bool = False
    """True if tasks run by this handler may write ``futures.pb`` (dynamic tasks): the engine then looks
    for it after each success."""
    inline_slow: float = 0.01
    """Seconds of the engine's time an index run by :meth:`inline_runner` may take on average (over a node's
    batches after its first, which pays what is done once) before the node's other indices run as ordinary
    attempts, in parallel: a handler running indices in the engine's thread keeps it small."""
    inline_outputs_stored: bool = False
    """True if the outputs :meth:`inline_runner` returns are those the index's own process wrote at its output
    prefix (``InlineBatch.output_prefixes``): the engine does not write them again."""
    inline_concurrency: int = 1
    """How many indices :meth:`inline_runner` runs at once: 1 for one after another in the engine's thread
    (batches then grow from one index, so that a slow task shows at once); more for a runner that starts
    them elsewhere and returns at the deadline whatever they do (batches then take what parallelism allows,
    and the average is judged once that many indices ended)."""

    @abc.abstractmethod
    def handle(self, ctx: TaskContext) -> Transition:
        """Start or check the attempt and report its phase. Must not block and must be idempotent."""

    def inline_runner(self, task: tasks_pb2.TaskTemplate) -> InlineRunner | None:
        """A function running first attempts of ``task``'s array node indices to their end in the calling
        (engine) thread, a batch of indices per call, or None (the default): each index then gets an ordinary
        attempt.

        The runner returns one outcome for each of the batch's first indices, in order: the outputs, a failure
        :class:`Transition`, or None for an index it started that is still running (a later batch holds it
        again). It stops starting indices after ``batch.deadline`` (the indices left out get later batches) and
        must not raise for failures of the task's code. Returning no outcome at all declines the batch: its
        indices, and the node's later ones, run as ordinary attempts, which must then find whatever the runner
        left running (a handler whose attempts re-attach to their processes does); so must they once the
        engine stops calling the runner (slow indices, a restart). Indices left running when the node is
        aborted get :meth:`abort` and then :meth:`finalize`, as ordinary attempts do. Every index the runner
        answered for gets :meth:`finalize` (with that context) once the state holding its outcome is saved: not
        before, since a restarted engine's runner learns the outcome again from what the attempt left; and by
        the engine that resumes, if this one died first. The engine asks only for tasks that are not cached and
        have no time limit; retries of a failed index are ordinary attempts, and the engine stops running a
        node's indices inline once they prove slow, so that it does not wait long on user code. A trivial index
        then costs about a function call (a handler running tasks in this process) or a fork (one starting warm
        processes), not an engine attempt with its handler rounds.
        """
        return None

    def abort(self, ctx: TaskContext) -> None:  # noqa: B027 - most handlers have nothing to abort
        """Stop the attempt: kill the process, delete the object. Idempotent.

        Called (then :meth:`finalize`) once the state saying the attempt was aborted is saved, and again
        by an engine that resumes the execution if the process died before the call was done.
        """

    def finalize(self, ctx: TaskContext) -> None:  # noqa: B027 - most handlers have nothing to clean up
        """Release what the attempt held, after it ended or was aborted. Idempotent.

        Called only once the state saying the attempt ended is saved, so it may remove what a restarted
        engine would have needed to learn the attempt's outcome; called again by an engine that resumes
        the execution if the process died before the call was done. ``ctx`` is rebuilt from the saved
        state: ``ctx.state`` is the last plugin state, ``ctx.exclusive`` is False.
        """

    def close(self) -> None:  # noqa: B027 - most handlers hold nothing between attempts
        """Stop background threads and close connections when the engine shuts down."""
