"""Array nodes (map tasks): run a task once per element of the list inputs.

Each index is its own task execution (cache, retries and deadlines included), kept inside the array node's
state and reported as one task event stream whose external resources are the indices. Inputs named in
``bound_inputs`` are passed whole to every index. In ``SINGLE_INPUT_FILE`` mode (flytekit's map tasks) every
index's container reads the array node's full ``inputs.pb`` and finds its element through the
``BATCH_JOB_ARRAY_INDEX_VAR_NAME`` environment variable; in ``INDIVIDUAL_INPUT_FILES`` mode each index gets its
own ``inputs.pb``. Outputs are gathered into lists in index order; an index that failed (allowed by
``min_successes`` / ``min_success_ratio``) contributes a None.

Handlers with an :meth:`~roost_core.handler.TaskHandler.inline_runner` (tasks run in this process, or in batches of
warm processes) get the first attempts of consecutive indices as one call in the engine's thread (an
:class:`~roost_core.handler.InlineBatch`), inputs and outputs in memory, with no attempt state, handler round or
task events of their own: a map over many trivial items then costs about a function call, or a fork, per item.
Their outputs are written to storage only when the state outlives this process
(:meth:`~roost_core.engine.run.Run.keep_literal_map`), and consecutive successes are one
:class:`~roost_core.engine.reporting.IndexRange` in the node's event until its message is built. Batches grow from
one index up to :data:`INLINE_BATCH` within the node's free parallelism (at once for runners that run indices
concurrently). Cached tasks (the cache is per index), tasks with a time limit and retries go through ordinary
attempts, and a node stops running inline once its indices take longer than the handler's ``inline_slow`` on
average (its other indices then run in parallel as ordinary attempts), or the runner declines; a round runs inline
for about :data:`INLINE_BUDGET` at most (:data:`INLINE_BUDGET_CONCURRENT` for concurrent runners) before it yields
to the rest of the execution.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from flyteidl.core import literals_pb2, tasks_pb2, workflow_pb2
from flyteidl.event import event_pb2

from roost_core import literal_types
from roost_core.engine.nodes import attempt, common, reuse
from roost_core.engine.nodes.attempt import TaskSite
from roost_core.engine.phases import NodePhase
from roost_core.engine.reporting import IndexRange, TaskReport, external_resource
from roost_core.engine.run import NodeRef, Run
from roost_core.engine.state import InlineCleanup, NodeState
from roost_core.errors import ErrorKind, ExecutionError, RoostError
from roost_core.handler import InlineBatch, InlineRunner, TaskContext, TaskHandler, TaskPhase, Transition

log = logging.getLogger(__name__)

INDEX_VAR_NAME = "BATCH_JOB_ARRAY_INDEX_VAR_NAME"
INDEX_VAR = "FLYTE_K8S_ARRAY_INDEX"
_NONE = literals_pb2.Literal(scalar=literals_pb2.Scalar(none_type=literals_pb2.Void()))
INLINE_BUDGET = 0.05
"""Seconds of inline indices per round, after which the engine looks at the rest of the execution."""
INLINE_BUDGET_CONCURRENT = 0.25
"""The same for runners that run indices concurrently elsewhere (the engine's thread only waits for them): their
indices run on through the round's bookkeeping, so fewer, longer rounds cost less of it per index."""
INLINE_BATCH = 256
"""The most indices one call of an inline runner gets."""
_IN_FLIGHT = (NodePhase.QUEUED, NodePhase.RUNNING)


def _task(run: Run, ref: NodeRef) -> tasks_pb2.TaskTemplate:
    sub = ref.node.array_node.node
    if sub.WhichOneof("target") != "task_node":
        raise ValueError(
            f"{ref.label}: array nodes can map only task nodes, not a {sub.WhichOneof('target')}"
        )
    return ref.scope.index.task(sub.task_node.reference_id)


def _size(ref: NodeRef, inputs: literals_pb2.LiteralMap) -> int | str:
    """The number of indices, or a message saying why the inputs do not map."""
    bound = set(ref.node.array_node.bound_inputs)
    sizes: dict[str, int] = {}
    for name, literal in inputs.literals.items():
        if name in bound:
            continue
        if literal.WhichOneof("value") != "collection":
            return f"input {name!r} is not a list; map over lists, or name it in bound_inputs"
        sizes[name] = len(literal.collection.literals)
    if not sizes:
        return 1
    if len(set(sizes.values())) > 1:
        listed = ", ".join(f"{name!r} has {size}" for name, size in sorted(sizes.items()))
        return f"the mapped inputs have different lengths: {listed}"
    return next(iter(sizes.values()))


def _all_inputs(run: Run, ref: NodeRef, state: NodeState) -> list[literals_pb2.LiteralMap]:
    """The inputs of every index: its element of each mapped list, and the bound inputs whole."""
    inputs = run.literal_map(state.inputs_uri)
    bound = set(ref.node.array_node.bound_inputs)
    size = len(state.subnodes or [])
    # Each input as one literal per index: its elements, or the whole input repeated.
    columns = [
        (name, literal.collection.literals)
        if name not in bound and literal.WhichOneof("value") == "collection"
        else (name, [literal] * size)
        for name, literal in inputs.literals.items()
    ]
    maps = []
    for index in range(size):
        target = literals_pb2.LiteralMap()
        literals = target.literals
        for name, values in columns:
            literals[name].CopyFrom(values[index])
        maps.append(target)
    return maps


def _index_inputs(run: Run, ref: NodeRef, state: NodeState, index: int) -> literals_pb2.LiteralMap:
    """The inputs of one index."""
    return run.derived(("array-inputs", ref.uid, state.attempt), lambda: _all_inputs(run, ref, state))[index]


def _original_interface(node: workflow_pb2.Node) -> bool:
    """Whether the sub-task declares element types; unset means list types, as flytekit registers."""
    array = node.array_node
    return array.HasField("is_original_sub_node_interface") and bool(
        array.is_original_sub_node_interface.value
    )


def _site(
    run: Run,
    ref: NodeRef,
    state: NodeState,
    task: tasks_pb2.TaskTemplate,
    index: int,
    *,
    write_inputs: bool = True,
) -> TaskSite:
    site = _index_site(run, ref.node, ref.uid, state.attempt, state.inputs_uri, task, index)
    site.inputs = _index_inputs(run, ref, state, index)
    # An index with an inputs file of its own (INDIVIDUAL_INPUT_FILES) gets it written on first use.
    if (
        write_inputs
        and site.inputs_uri != state.inputs_uri
        and not run.engine.storage.exists(site.inputs_uri)
    ):
        run.engine.storage.write_proto(site.inputs_uri, site.inputs)
    return site


def _index_site(
    run: Run,
    node: workflow_pb2.Node,
    uid: str,
    attempt: int,
    inputs_uri: str,
    task: tasks_pb2.TaskTemplate,
    index: int,
) -> TaskSite:
    """Index ``index`` of attempt ``attempt`` of array node ``uid``, inputs not read: how an index is named."""
    storage = run.engine.storage
    data_dir = storage.join(run.data_dir(uid), str(index))
    if node.array_node.data_mode == workflow_pb2.ArrayNode.INDIVIDUAL_INPUT_FILES:
        inputs_uri = storage.join(data_dir, "inputs.pb")
    return TaskSite(
        uid=f"{uid}-{attempt}-n{index}",
        node=node.array_node.node,
        task=task,
        inputs=literals_pb2.LiteralMap(),
        inputs_uri=inputs_uri,
        data_dir=data_dir,
        where=f"node {uid!r} index {index}",
        extra_env={INDEX_VAR_NAME: INDEX_VAR, INDEX_VAR: str(index)},
        element_outputs=not _original_interface(node),
    )


def _required(ref: NodeRef, size: int) -> int:
    array = ref.node.array_node
    criteria = array.WhichOneof("success_criteria")
    if criteria == "min_successes":
        return min(int(array.min_successes), size)
    if criteria == "min_success_ratio":
        return min(math.ceil(float(array.min_success_ratio) * size), size)
    return size


@dataclass(slots=True)
class _Inline:
    """A node attempt's inline running: its runner while it lasts (None once an index was slow), and what
    every index shares."""

    runner: InlineRunner | None
    handler: TaskHandler | None = None
    ran: int = 0
    """How many indices ran inline."""
    running: set[int] = field(default_factory=set)
    """Indices the runner left running (not started in the state): aborted with the node."""
    batches: int = 0
    count: int = 0
    seconds: float = 0.0
    """How many indices ran inline in batches after the first, and for how long in all."""
    data_dir: str = ""
    raw_prefix: str = ""
    outputs: dict[str, Callable[[literals_pb2.Literal], bool]] = field(default_factory=dict)
    """Whether a value fits each output of one index (by the output's type)."""

    @property
    def concurrent(self) -> bool:
        """Whether the runner runs indices concurrently elsewhere (see ``TaskHandler.inline_concurrency``)."""
        return self.handler is not None and self.handler.inline_concurrency > 1


def _inline(run: Run, ref: NodeRef, state: NodeState, task: tasks_pb2.TaskTemplate) -> _Inline:
    """Whether this node attempt's indices may run inline: a runner from the handler, no cache, no time
    limit."""

    def decide() -> _Inline:
        site = _site(run, ref, state, task, 0, write_inputs=False)
        if attempt.cache_key(site) is not None or any(attempt.deadlines(run, site)):
            return _Inline(None)
        try:
            handler = run.engine.handlers.for_task_type(task.type)
        except RoostError:  # the ordinary attempt reports the unknown task type
            return _Inline(None)
        try:
            runner = handler.inline_runner(task)
        except Exception:  # a handler is plugin code: ordinary attempts then report what is wrong
            log.exception("%s: inline_runner failed; its indices run as ordinary attempts", site.label)
            return _Inline(None)
        if runner is None:
            return _Inline(None)
        outputs = {}
        for name, variable in task.interface.outputs.variables.items():
            expected = variable.type
            if site.element_outputs and expected.HasField("collection_type"):
                expected = expected.collection_type
            outputs[name] = literal_types.matcher(expected)
        return _Inline(
            runner,
            handler,
            data_dir=run.data_dir(ref.uid).rstrip("/"),
            raw_prefix=run.state.raw_output_prefix.rstrip("/"),
            outputs=outputs,
        )

    return run.derived(("array-inline", ref.uid, state.attempt), decide)


def _run_batch(
    run: Run,
    ref: NodeRef,
    state: NodeState,
    task: tasks_pb2.TaskTemplate,
    inline: _Inline,
    first: int,
    size: int,
    deadline: float,
) -> tuple[int, list[event_pb2.ExternalResourceInfo | IndexRange]]:
    """Run the first attempts of indices ``first`` to ``first + size - 1`` inline (the runner may stop early:
    the indices it left out, and those it left running, stay not started): how many indices from ``first`` the
    runner answered for (0: it declined), and the changed indices' entries for the node's event, consecutive
    successes as one range. The outputs of successes are kept in memory, and written only when the state
    outlives this process (:meth:`Run.keep_literal_map`)."""
    runner = inline.runner
    assert runner is not None
    indices = range(first, first + size)
    prefix = f"{ref.uid}-{state.attempt}-n"
    node_ids = [f"{prefix}{index}" for index in indices]
    output_prefixes = [f"{inline.data_dir}/{index}/0" for index in indices]
    all_inputs = run.derived(("array-inputs", ref.uid, state.attempt), lambda: _all_inputs(run, ref, state))
    handler = inline.handler
    assert handler is not None

    def context(offset: int) -> TaskContext:
        site = _site(run, ref, state, task, first + offset)
        return attempt.context(run, site, (state.subnodes or [])[first + offset], handler)

    batch = InlineBatch(
        task=task,
        execution_id=run.execution_id,
        storage=run.engine.storage,
        node_ids=node_ids,
        inputs=all_inputs[first : first + size],
        output_prefixes=output_prefixes,
        raw_output_prefix=f"{inline.raw_prefix}/{node_ids[0]}-b/0",
        deadline=deadline,
        context=context,
    )
    started = time.perf_counter()
    outcomes: Sequence[literals_pb2.LiteralMap | Transition | None]
    broken = ""
    try:
        outcomes = runner(batch)
        if len(outcomes) > size:
            broken = f"returned {len(outcomes)} outcome(s) for {size} index(es)"
    except Exception as exc:  # a handler is plugin code: its crash fails the index, not the engine
        broken = f"raised {type(exc).__name__}: {exc}"
    ended = 1 if broken else sum(outcome is not None for outcome in outcomes)

    inline.ran += ended
    if inline.batches:  # the first batch pays what is done once (imports, a warm server's start): not counted
        inline.count += ended
        inline.seconds += time.perf_counter() - started
    inline.batches += 1
    if broken:  # the batch's first index fails; the rest run as ordinary attempts
        log.error("%s: inline runner of task %r %s", ref.label, task.id.name, broken)
        inline.runner = None
        outcomes = [
            Transition.failure(
                "HandlerError", f"task {task.id.name!r}: inline runner {broken}", kind=ErrorKind.SYSTEM
            )
        ]
    elif not outcomes or (
        inline.count >= handler.inline_concurrency and inline.seconds > handler.inline_slow * inline.count
    ):  # declined, or slow
        inline.runner = None
    subnodes = state.subnodes or []
    now = run.now
    changed: list[event_pb2.ExternalResourceInfo | IndexRange] = []
    finished: list[int] = []
    succeeded_from = first  # the successes since the last failure, reported as one range
    for offset, outcome in enumerate(outcomes):
        index = first + offset
        fits = isinstance(outcome, literals_pb2.LiteralMap) and _fits(outcome, inline.outputs)
        if not fits:  # it ends the range of successes before it
            if succeeded_from < index:
                changed.append(IndexRange(succeeded_from, index - succeeded_from))
            succeeded_from = index + 1
        if outcome is None:  # still running
            inline.running.add(index)
            continue
        inline.running.discard(index)
        finished.append(index)
        sub = subnodes[index]
        sub.queued_at = sub.attempt_started_at = now
        if fits:
            assert isinstance(outcome, literals_pb2.LiteralMap)
            outputs_uri = f"{output_prefixes[offset]}/outputs.pb"
            run.keep_literal_map(outputs_uri, outcome, stored=handler.inline_outputs_stored)
            sub.outputs_uri = outputs_uri
            sub.phase = NodePhase.SUCCEEDED
            continue
        site = _site(run, ref, state, task, index, write_inputs=False)
        result = attempt.StepResult()
        if isinstance(outcome, literals_pb2.LiteralMap):
            problem = (
                attempt.check_outputs(site, outcome) or f"{site.label} returned outputs of the wrong type"
            )
            error = ExecutionError("OutputsMismatch", problem, ErrorKind.USER)
            attempt.fail_inline(run, site, sub, result, error, retryable=False)
        elif outcome.error is None:
            error = ExecutionError(
                "HandlerError",
                f"{site.where}: the inline runner returned {outcome.phase.name}, not outputs or a failure",
                ErrorKind.SYSTEM,
            )
            attempt.fail_inline(run, site, sub, result, error, retryable=False)
        else:
            error = replace(outcome.error, message=f"{site.where}: {outcome.error.message}")
            retryable = outcome.phase is TaskPhase.RETRYABLE_FAILURE
            attempt.fail_inline(run, site, sub, result, error, retryable=retryable)
        changed.append(_external(index, sub, result.reports))
    end = first + len(outcomes)
    if succeeded_from < end:
        changed.append(IndexRange(succeeded_from, end - succeeded_from))
    _owe_cleanup(run, ref, state, task, handler, finished)
    return len(outcomes), changed


def _owe_cleanup(
    run: Run,
    ref: NodeRef,
    state: NodeState,
    task: tasks_pb2.TaskTemplate,
    handler: TaskHandler,
    indices: list[int],
) -> None:
    """Owe ``finalize`` to the inline attempts of ``indices``, which ended: it runs once the state saying so is
    saved (a handler that does not override ``finalize`` has nothing to clean up)."""
    if indices and type(handler).finalize is not TaskHandler.finalize:
        cleanup = InlineCleanup(handler.name, task, ref.node, ref.uid, state.attempt, indices)
        run.state.inline_cleanups.append(cleanup)


def clean_up(run: Run, cleanup: InlineCleanup) -> None:
    """Run the ``finalize`` owed to inline attempts; failures are logged (a leak must not fail anything)."""
    skipped = f"the cleanup of {len(cleanup.indices)} inline index(es)"
    handler = attempt.cleanup_handler(run, cleanup.handler, f"node {cleanup.uid}", skipped)
    if handler is None:
        return
    inputs_uri = run.node_state(cleanup.uid).inputs_uri
    for index in cleanup.indices:
        site = _index_site(run, cleanup.node, cleanup.uid, cleanup.attempt, inputs_uri, cleanup.task, index)
        attempt.finalize(handler, attempt.task_context(run, attempt.record(run, site, NodeState(), handler)))


def _fits(
    outputs: literals_pb2.LiteralMap, expected: dict[str, Callable[[literals_pb2.Literal], bool]]
) -> bool:
    """Whether ``outputs`` has each expected output, of its type."""
    literals = outputs.literals
    for name, matches in expected.items():
        if name not in literals or not matches(literals[name]):
            return False
    return True


def _batch_size(subnodes: list[NodeState], first: int, inline: _Inline, free: int) -> int:
    """How many indices from ``first`` the next inline batch takes: consecutive indices not started yet,
    twice as many as ran inline so far (a slow task is noticed after one index) unless the handler's runner
    runs indices concurrently, within the node's free parallelism (``free``, 0 for unlimited) and
    :data:`INLINE_BATCH`."""
    grown = INLINE_BATCH if inline.concurrent else max(1, inline.ran)
    limit = min(INLINE_BATCH, grown, free or INLINE_BATCH, len(subnodes) - first)
    size = 1
    while size < limit and subnodes[first + size].phase is NodePhase.NOT_YET_STARTED:
        size += 1
    return size


def advance(run: Run, ref: NodeRef, state: NodeState) -> None:
    """Start the indices that may start, advance the running ones, and judge the whole."""
    try:
        task = _task(run, ref)
    except (KeyError, ValueError) as exc:
        run.fail(ref, state, ExecutionError("MalformedArrayNode", str(exc.args[0]), ErrorKind.USER))
        return
    recovered: list[int] = []
    if state.phase is NodePhase.NOT_YET_STARTED:
        inputs = common.start(run, ref, state)
        if inputs is None:
            return
        size = _size(ref, inputs)
        if isinstance(size, str):
            run.fail(ref, state, ExecutionError("InvalidArrayLength", f"{ref.label}: {size}", ErrorKind.USER))
            return
        state.subnodes = [NodeState() for _ in range(size)]
        run.set_phase(ref, state, NodePhase.RUNNING, target=task.id)
        recovered = reuse.array_indices(run, ref, state)
    subnodes = state.subnodes or []
    ended = _ended(run, ref, state)
    parallelism = ref.node.array_node.parallelism
    running = visits = 0
    failed = ended.failed
    last_in_flight = -1
    for index in range(ended.below, len(subnodes)):
        phase = subnodes[index].phase
        if phase in _IN_FLIGHT:
            running += 1
            last_in_flight = index
        if not phase.is_terminal:
            visits += 1
        elif not phase.is_success:
            failed += 1
    # Once too many failed for the node to succeed, no index starts (the node fails at the end of the round).
    spare = len(subnodes) - _required(ref, len(subnodes))
    keep_starting = ref.node.array_node.run_all_sub_nodes
    changed: list[event_pb2.ExternalResourceInfo | IndexRange] = [
        _external(index, subnodes[index], []) for index in recovered
    ]
    inline: _Inline | None = None  # decided at the first index to start
    round_started = time.perf_counter()
    inline_until = round_started + INLINE_BUDGET
    batched_until = 0  # indices below it ran inline in this round
    ran_inline = False  # a round runs one inline batch at least, whatever its time
    # Indices still to visit count as pending, so no index is taken for the only work there is.
    run.pending_visits += visits
    for index in range(ended.below, len(subnodes)):
        sub = subnodes[index]
        if sub.phase.is_terminal:
            continue
        # Past the round's inline time and the last index in flight: the rest next round, after the other
        # nodes had theirs.
        if ran_inline and index > last_in_flight and time.perf_counter() > inline_until:
            run.wake_at(run.now)
            break
        visits -= 1
        run.pending_visits -= 1
        if index < batched_until:  # failed inline: its retry is an ordinary attempt, from the next round
            continue
        if sub.phase is NodePhase.NOT_YET_STARTED:
            if (parallelism and running >= parallelism) or (failed > spare and not keep_starting):
                continue
            inline = inline or _inline(run, ref, state, task)
            if inline.runner is not None:
                if ran_inline and time.perf_counter() > inline_until:
                    run.wake_at(run.now)  # the rest next round, after the other nodes had theirs
                    continue
                if run.may_start_attempt():
                    ran_inline = True
                    size = _batch_size(subnodes, index, inline, parallelism - running if parallelism else 0)
                    if inline.concurrent:
                        inline_until = round_started + INLINE_BUDGET_CONCURRENT
                    covered, entries = _run_batch(run, ref, state, task, inline, index, size, inline_until)
                    run.attempt_ended()
                    if covered:
                        changed += entries
                        batched_until = index + covered
                        for done in subnodes[index:batched_until]:
                            if not done.phase.is_terminal:  # still running, or failed and to be retried
                                running += 1
                            elif not done.phase.is_success:
                                failed += 1
                            if done.phase is NodePhase.NOT_YET_STARTED:
                                run.wake_at(run.now)  # the runner has indices running: ask it again soon
                        continue
            sub.phase = NodePhase.QUEUED
            sub.queued_at = run.now
            running += 1
        site = _site(run, ref, state, task, index)
        result = attempt.step(run, site, sub)
        if result.outcome is attempt.Outcome.DYNAMIC:
            sub.phase = NodePhase.FAILED
            sub.error = ExecutionError(
                "DynamicInMap", f"{site.label}: a mapped task cannot be dynamic", ErrorKind.USER
            )
        if result.reports or result.node_phases:
            changed.append(_external(index, sub, result.reports))
        if sub.phase.is_terminal:
            running -= 1
            failed += not sub.phase.is_success
    run.pending_visits -= visits
    _judge(run, ref, state, task, changed)


@dataclass(slots=True)
class _Ended:
    """A node attempt's first indices that ended (below :attr:`below`; an ended index stays ended), and how:
    a round then neither visits nor counts them again (a map's indices mostly end in order)."""

    below: int = 0
    succeeded: int = 0
    failed: int = 0


def _ended(run: Run, ref: NodeRef, state: NodeState) -> _Ended:
    """The node attempt's ended first indices, brought up to date."""
    ended = run.derived(("array-ended", ref.uid, state.attempt), _Ended)
    subnodes = state.subnodes or []
    while ended.below < len(subnodes):
        phase = subnodes[ended.below].phase
        if not phase.is_terminal:
            break
        if phase.is_success:
            ended.succeeded += 1
        else:
            ended.failed += 1
        ended.below += 1
    return ended


def _external(index: int, sub: NodeState, reports: list[TaskReport]) -> event_pb2.ExternalResourceInfo:
    last = reports[-1] if reports else None
    if last is not None:
        return external_resource(
            index, last.attempt, last.phase, logs=last.logs, cache_status=sub.cache_status
        )
    phase = TaskPhase.SUCCESS if sub.phase.is_success else TaskPhase.PERMANENT_FAILURE
    return external_resource(index, sub.attempt, int(phase), cache_status=sub.cache_status)


def _judge(
    run: Run,
    ref: NodeRef,
    state: NodeState,
    task: tasks_pb2.TaskTemplate,
    changed: list[event_pb2.ExternalResourceInfo | IndexRange],
) -> None:
    subnodes = state.subnodes or []
    size = len(subnodes)
    ended = _ended(run, ref, state)
    succeeded, failed = ended.succeeded, ended.failed
    for index in range(ended.below, size):
        phase = subnodes[index].phase
        if phase.is_terminal:
            if phase.is_success:
                succeeded += 1
            else:
                failed += 1
    required = _required(ref, size)
    done = succeeded + failed == size
    if size - failed < required and not (ref.node.array_node.run_all_sub_nodes and not done):
        stop(run, ref, state, "the array node can no longer reach its minimum successes")
        first = next(
            (s.error for s in subnodes if s.error is not None),
            ExecutionError("Aborted", "aborted", ErrorKind.SYSTEM),
        )
        error = ExecutionError(
            "ArrayNodeFailed",
            f"{ref.label}: {failed} of {size} mapped task(s) failed, at most {size - required} may; "
            f"first error: {first.message}",
            first.kind,
        )
        _report(run, ref, state, task, TaskPhase.PERMANENT_FAILURE, changed, error=error)
        run.fail(ref, state, error)
        return
    if done:
        outputs = _gather(run, ref, state, task)
        state.outputs_uri = run.engine.storage.join(run.data_dir(ref.uid), "outputs.pb")
        run.write_literal_map(state.outputs_uri, outputs)
        _report(run, ref, state, task, TaskPhase.SUCCESS, changed, output_uri=state.outputs_uri)
        run.set_phase(ref, state, NodePhase.SUCCEEDED, target=task.id)
        return
    if changed:
        _report(run, ref, state, task, TaskPhase.RUNNING, changed)


def _report(
    run: Run,
    ref: NodeRef,
    state: NodeState,
    task: tasks_pb2.TaskTemplate,
    phase: TaskPhase,
    changed: list[event_pb2.ExternalResourceInfo | IndexRange],
    *,
    error: ExecutionError | None = None,
    output_uri: str = "",
) -> None:
    state.array_version += 1
    report = TaskReport(
        state.attempt,
        int(phase),
        state.array_version,
        run.now,
        error=error,
        output_uri=output_uri,
        external=list(changed),
    )
    run.record_task(ref.uid, task, report, state.inputs_uri)


def _gather(
    run: Run, ref: NodeRef, state: NodeState, task: tasks_pb2.TaskTemplate
) -> literals_pb2.LiteralMap:
    outputs = literals_pb2.LiteralMap()
    found = [
        run.literal_map(sub.outputs_uri).literals if sub.phase.is_success else None
        for sub in state.subnodes or []
    ]
    for name in task.interface.outputs.variables:
        collection = outputs.literals[name].collection
        collection.SetInParent()
        collection.literals.extend(
            values[name] if values is not None and name in values else _NONE for values in found
        )
    return outputs


def stop(run: Run, ref: NodeRef, state: NodeState, cause: str) -> None:
    """Abort every index still in flight."""
    if not state.subnodes:
        return
    task = _task(run, ref)
    changed: list[event_pb2.ExternalResourceInfo | IndexRange] = []
    inline = _inline(run, ref, state, task)
    aborted: list[int] = []
    for index in sorted(inline.running):
        sub = state.subnodes[index]
        if sub.phase is not NodePhase.NOT_YET_STARTED or inline.handler is None:
            continue
        ctx = attempt.context(
            run, _site(run, ref, state, task, index, write_inputs=False), sub, inline.handler
        )
        try:
            inline.handler.abort(ctx)
        except Exception:  # plugin code: the node is aborted all the same
            log.exception("%s index %d: aborting the inline attempt failed", ref.label, index)
        aborted.append(index)
        sub.phase = NodePhase.ABORTED
        changed.append(_external(index, sub, []))
    if inline.handler is not None:
        _owe_cleanup(run, ref, state, task, inline.handler, aborted)
    inline.running.clear()
    for index, sub in enumerate(state.subnodes):
        if sub.phase.is_terminal or sub.phase is NodePhase.NOT_YET_STARTED:
            continue
        result = attempt.abort(run, _site(run, ref, state, task, index), sub, cause)
        sub.phase = NodePhase.ABORTED
        if result.reports:
            changed.append(_external(index, sub, result.reports))
    if changed:
        _report(run, ref, state, task, TaskPhase.RUNNING, changed)
