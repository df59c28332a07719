"""The handler conformance suite: checks every task handler must pass, shipped as a pytest plugin.

A plugin's tests subclass :class:`HandlerConformance` and give, as the ``plugin`` fixture, a
:class:`PluginUnderTest`: how to build the handler (its engine plugin modules, its name, its settings), and a
few tasks (one that succeeds, one that takes a while, one that fails with the user's error)::

    from roost_core.testing.conformance import HandlerConformance, PluginUnderTest, TaskCase

    class TestMyHandlerConformance(HandlerConformance):
        @pytest.fixture
        def plugin(self, my_server) -> PluginUnderTest:
            return PluginUnderTest(
                plugins=[my_plugin.engine],
                handler="my-handler",
                section={"endpoint": my_server.url},
                succeeds=TaskCase(my_task_template()),
                ...
            )

Every check is a test method; a check that does not apply to a plugin is exempted by name in
:attr:`PluginUnderTest.exemptions` with the reason, and is reported as skipped with that reason. A check whose
case is missing and that is not exempted fails, saying what to give.

The suite is registered under the ``pytest11`` entry point, so installing roost-core gives every test session
its fixtures: ``fake_clock`` (a :class:`~roost_core.testing.harness.FakeClock`), ``one_task_engine`` (a
factory of :class:`~roost_core.testing.harness.OneTaskEngine`, closed after the test) and ``roost_start``
(a running ``roost start``, when roost-admin is installed). The Kubernetes test server's fixture comes with
roost-k8s-pod (``kube_test_server``).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flyteidl.core import literals_pb2, tasks_pb2
from google.protobuf import duration_pb2, json_format
from google.protobuf.message import Message

from roost_core.engine import EngineConfig, NodePhase
from roost_core.errors import ErrorKind
from roost_core.handler import TaskContext, TaskHandler, TaskPhase, Transition
from roost_core.testing.driver import WAIT_SECONDS
from roost_core.testing.harness import NODE_ID, FakeClock, OneTaskEngine, build_handler, one_task_workflow
from roost_core.testing.tasks import file_storage, task_context

__all__ = [
    "CHECKS",
    "ConformanceError",
    "Example",
    "HandlerConformance",
    "PluginUnderTest",
    "TaskCase",
    "phase_regressions",
]

CHECKS = (
    "handle_does_not_block",
    "handle_is_idempotent",
    "phases_move_forward",
    "abort_before_handle",
    "abort_is_idempotent",
    "finalize_is_idempotent",
    "state_round_trips",
    "restart_reattaches",
    "user_error",
    "system_error",
    "retries",
    "timeout",
    "template",
    "local_run",
    "roost_start",
)
"""The names of the checks, as :attr:`PluginUnderTest.exemptions` uses them."""


class ConformanceError(AssertionError):
    """A handler broke the contract; the message names the handler, the check and what it did."""


@dataclasses.dataclass(frozen=True)
class TaskCase:
    """A task template with its inputs (and, optionally, the outputs it must produce)."""

    template: tasks_pb2.TaskTemplate
    inputs: literals_pb2.LiteralMap = dataclasses.field(default_factory=literals_pb2.LiteralMap)
    outputs: literals_pb2.LiteralMap | None = None


@dataclasses.dataclass(frozen=True)
class Example:
    """A workflow file run with ``roost run`` and on ``roost start``; its JSON output must be ``expected``."""

    folder: Path
    """The working directory (the file and what it imports live there)."""
    file: str
    workflow: str
    expected: Any
    """What ``roost run -o json`` prints, parsed."""
    args: tuple[str, ...] = ()
    """The workflow's inputs as CLI options (``--n``, ``3``)."""
    env: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """The environment of the local run (where the local run finds its external system)."""
    server_settings: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    """The configuration file of ``roost start`` (the engine's handler sections)."""


@dataclasses.dataclass
class PluginUnderTest:
    """What the conformance suite needs to know about one handler."""

    plugins: Sequence[object]
    """The engine plugin modules (or objects) whose ``roost_task_handlers`` register the handler."""
    handler: str
    """The handler's registered name."""
    succeeds: TaskCase
    """A task that succeeds."""
    section: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    """The handler's settings (``engine.handlers.<handler>``): where its external system is."""
    shared: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    """Shared configuration sections the handler's settings read."""
    slow: TaskCase | None = None
    """A task that succeeds after a few seconds: it is aborted, restarted and timed out while it runs."""
    fails_user: TaskCase | None = None
    """A task that fails with the user's error (a bad query, a non-zero exit)."""
    unreachable: Mapping[str, Any] | None = None
    """A handler section under which the external system cannot be reached: the task fails with a SYSTEM
    error (keep its retry budgets small)."""
    submissions: Callable[[], int] | None = None
    """How many jobs were submitted to the external system so far: restarts and repeated calls must not
    add any."""
    running: Callable[[], int] | None = None
    """How many submitted jobs still run: an abort (or a timeout) must bring it to 0."""
    custom_message: type[Message] | None = None
    """The flyteidl plugin message ``TaskTemplate.custom`` holds (e.g. ``PrestoQuery``)."""
    environment: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """The task environment of contexts built without an engine (identity variables a handler reads)."""
    example: Example | None = None
    """A workflow using the task type, run locally and on ``roost start``."""
    exemptions: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """Checks (names from :data:`CHECKS`) that do not apply, each with the reason."""
    handle_budget: float = 10.0
    """Seconds after which one ``handle`` call counts as blocked: a hang guard, not a speed target."""
    max_state_bytes: int = 64 * 1024
    """The largest plugin state (as JSON) the handler may ask the engine to persist."""

    def __post_init__(self) -> None:
        unknown = sorted(set(self.exemptions) - set(CHECKS))
        if unknown:
            raise ValueError(f"exemptions name unknown checks {unknown}; the checks are {list(CHECKS)}")

    def config(self, section: Mapping[str, Any] | None = None) -> EngineConfig:
        """The engine configuration running the cases on this handler."""
        types = {case.template.type for case in (self.succeeds, self.slow, self.fails_user) if case}
        return EngineConfig(
            poll_interval=0.05,
            handlers={self.handler: dict(self.section if section is None else section)},
            shared={key: dict(value) for key, value in self.shared.items()},
            default_for_task_types=dict.fromkeys(sorted(types), self.handler),
        )


def _exempt_or_need(plugin: PluginUnderTest, check: str, needed: object, what: str) -> None:
    """Skip an exempted check with its reason; fail one that lacks its case and is not exempted."""
    if check in plugin.exemptions:
        pytest.skip(f"{plugin.handler}: exempt from {check!r}: {plugin.exemptions[check]}")
    if needed is None:
        raise ConformanceError(
            f"{plugin.handler}: check {check!r} needs {what} in PluginUnderTest; give it, or exempt "
            f"{check!r} with the reason"
        )


_RANK = {
    TaskPhase.NOT_READY: 0,
    TaskPhase.WAITING_FOR_RESOURCES: 0,
    TaskPhase.QUEUED: 1,
    TaskPhase.INITIALIZING: 2,
    TaskPhase.RUNNING: 3,
}


def phase_regressions(transitions: Sequence[Transition]) -> list[str]:
    """Where a sequence of transitions of one attempt moves backwards: to an earlier phase (not started,
    queued, initializing, running, ended), or to a lower version within one phase."""
    problems: list[str] = []
    for index, (before, after) in enumerate(itertools.pairwise(transitions), start=2):
        rank_before = _RANK.get(before.phase, 4)
        rank_after = _RANK.get(after.phase, 4)
        if rank_after < rank_before:
            problems.append(f"call {index}: {before.phase.name} -> {after.phase.name}")
        elif before.phase is after.phase and after.version < before.version:
            problems.append(f"call {index}: {after.phase.name} version {before.version} -> {after.version}")
    return problems


class _Rounds:
    """Calls ``handle`` as the engine does: the state through JSON, a wake-up or ``wake_after`` between calls,
    every call under the hang guard."""

    def __init__(self, plugin: PluginUnderTest, handler: TaskHandler, ctx: TaskContext) -> None:
        self.plugin = plugin
        self.handler = handler
        self.woken = threading.Event()
        self.ctx = dataclasses.replace(ctx, notify=self.woken.set)
        self.transitions: list[Transition] = []

    def call(self, ctx: TaskContext | None = None) -> Transition:
        """One ``handle`` call with ``ctx`` (the current context by default); fails if it blocks."""
        ctx = ctx or self.ctx
        result: list[Transition] = []
        error: list[BaseException] = []

        def call() -> None:
            try:
                result.append(self.handler.handle(ctx))
            except BaseException as exc:  # reported in the test's thread
                error.append(exc)

        thread = threading.Thread(target=call, daemon=True)
        thread.start()
        thread.join(self.plugin.handle_budget)
        if thread.is_alive():
            raise ConformanceError(
                f"{self.plugin.handler}: handle() blocked for more than {self.plugin.handle_budget:g} s "
                f"(call {len(self.transitions) + 1}); it must start or check the work and return at once"
            )
        if error:
            raise ConformanceError(
                f"{self.plugin.handler}: handle() raised {type(error[0]).__name__}: {error[0]} "
                f"(call {len(self.transitions) + 1}); report failures as a failure Transition"
            ) from error[0]
        transition = result[0]
        self.transitions.append(transition)
        return transition

    def keep(self, transition: Transition) -> None:
        """Take the transition's state as the engine does: through JSON."""
        if transition.state is not None:
            state = _json_state(self.plugin, transition.state)
            self.ctx = dataclasses.replace(self.ctx, state=state)

    def round(self) -> Transition:
        """One call, its state kept."""
        self.woken.clear()
        transition = self.call()
        self.keep(transition)
        return transition

    def wait(self, transition: Transition) -> None:
        """Until the handler's wake-up, or the ``wake_after`` it asked for."""
        wait = WAIT_SECONDS if transition.wake_after is None else min(WAIT_SECONDS, transition.wake_after)
        if not self.woken.wait(max(wait, 0.01)) and transition.wake_after is None:
            raise ConformanceError(
                f"{self.plugin.handler}: no ctx.notify() and no wake_after within {WAIT_SECONDS:g} s after "
                f"{transition.phase.name}; the engine would not look at the task again"
            )

    def until(self, done: Callable[[Transition], bool]) -> Transition:
        """Rounds until ``done`` holds or the phase is terminal."""
        while True:
            transition = self.round()
            if done(transition) or transition.phase.is_terminal:
                return transition
            self.wait(transition)

    def finalize(self) -> None:
        self.handler.finalize(dataclasses.replace(self.ctx, exclusive=False))


def _json_state(plugin: PluginUnderTest, state: Mapping[str, Any]) -> dict[str, Any]:
    """``state`` after the engine's JSON round trip; fails if it does not survive one unchanged."""
    try:
        text = json.dumps(dict(state), sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise ConformanceError(
            f"{plugin.handler}: the plugin state cannot be saved as JSON ({exc}): {state!r}"
        ) from None
    loaded: dict[str, Any] = json.loads(text)
    if loaded != dict(state):
        raise ConformanceError(
            f"{plugin.handler}: the plugin state changes through JSON (tuples, non-string keys, NaN?): "
            f"{dict(state)!r} comes back as {loaded!r}"
        )
    if len(text) > plugin.max_state_bytes:
        raise ConformanceError(
            f"{plugin.handler}: the plugin state is {len(text)} bytes as JSON, more than "
            f"{plugin.max_state_bytes}; keep large data in blob storage and its URI in the state"
        )
    return loaded


def _in_flight(transition: Transition) -> bool:
    return TaskPhase.QUEUED <= transition.phase < TaskPhase.SUCCESS


def _describe(transition: Transition) -> str:
    error = transition.error
    return transition.phase.name + (f" ({error.kind.value} {error.code}: {error.message})" if error else "")


def _with_task_options(
    template: tasks_pb2.TaskTemplate, *, retries: int | None = None, timeout: float | None = None
) -> tasks_pb2.TaskTemplate:
    copy = tasks_pb2.TaskTemplate()
    copy.CopyFrom(template)
    if retries is not None:
        copy.metadata.retries.retries = retries
    if timeout is not None:
        copy.metadata.timeout.CopyFrom(duration_pb2.Duration(seconds=int(timeout)))
    return copy


def _until_in_flight(plugin: PluginUnderTest, run: OneTaskEngine) -> None:
    """Engine rounds until the task's attempt is queued or running."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        run.round()
        node = run.run.state.nodes.get(NODE_ID) if run.run is not None else None
        if (
            node is not None
            and node.task is not None
            and TaskPhase.QUEUED <= node.task.phase < TaskPhase.SUCCESS
        ):
            return
        if (node is not None and node.phase.is_terminal) or time.monotonic() > deadline:
            where = "not started" if node is None else f"{node.phase.name}, {node.error}"
            raise ConformanceError(
                f"{plugin.handler}: the slow task never showed as queued or running on the engine ({where})"
            )
        time.sleep(0.02)


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise ConformanceError(what)
        time.sleep(0.02)


class HandlerConformance:
    """The checks; subclass it in a plugin's tests and define the ``plugin`` fixture (a
    :class:`PluginUnderTest`). Each check's docstring says what a failure means."""

    @pytest.fixture
    def plugin(self) -> PluginUnderTest:
        """The handler under test: subclasses override this fixture."""
        raise NotImplementedError("define the `plugin` fixture returning a PluginUnderTest")

    # helpers

    @contextmanager
    def _handler(
        self, plugin: PluginUnderTest, section: Mapping[str, Any] | None = None
    ) -> Iterator[TaskHandler]:
        handler = build_handler(
            plugin.plugins,
            plugin.handler,
            section=plugin.section if section is None else section,
            shared=plugin.shared,
        )
        try:
            yield handler
        finally:
            handler.close()

    def _context(self, plugin: PluginUnderTest, root: Path, case: TaskCase, **fields: Any) -> TaskContext:
        return task_context(root, case.template, inputs=case.inputs, environment=plugin.environment, **fields)

    def _engine(
        self, plugin: PluginUnderTest, root: Path, case: TaskCase, *, clock: FakeClock | None = None
    ) -> OneTaskEngine:
        return OneTaskEngine(
            case.template,
            file_storage(root),
            data_prefix=f"file://{root}/data",
            plugins=plugin.plugins,
            config=plugin.config(),
            clock=clock,
        )

    def _submissions(self, plugin: PluginUnderTest) -> int:
        return plugin.submissions() if plugin.submissions is not None else 0

    def _start_slow(
        self, plugin: PluginUnderTest, handler: TaskHandler, tmp_path: Path, meaning: str
    ) -> _Rounds:
        """Rounds of ``handle`` on the slow case until it is queued or running; fails (saying what that
        ``meaning``) when it ends first."""
        assert plugin.slow is not None
        rounds = _Rounds(plugin, handler, self._context(plugin, tmp_path, plugin.slow))
        reached = rounds.until(_in_flight)
        if reached.phase.is_terminal:
            raise ConformanceError(
                f"{plugin.handler}: the slow task ended ({_describe(reached)}) before handle() ever "
                f"reported it queued or running: {meaning}"
            )
        return rounds

    # the checks

    def test_handle_does_not_block(self, plugin: PluginUnderTest, tmp_path: Path) -> None:
        """``handle`` starts a slow task and returns: it must not wait for the task to end."""
        _exempt_or_need(plugin, "handle_does_not_block", plugin.slow, "a slow case")
        with self._handler(plugin) as handler:
            rounds = self._start_slow(
                plugin, handler, tmp_path, "handle() waits for the task instead of returning"
            )
            handler.abort(rounds.ctx)
            rounds.finalize()

    def test_handle_is_idempotent(self, plugin: PluginUnderTest, tmp_path: Path) -> None:
        """Every ``handle`` call is made twice with the same state (as after a failed save): the second may not
        go back, fail, or submit again, and the task still succeeds."""
        _exempt_or_need(plugin, "handle_is_idempotent", plugin.succeeds, "a succeeding case")
        before = self._submissions(plugin)
        with self._handler(plugin) as handler:
            rounds = _Rounds(plugin, handler, self._context(plugin, tmp_path, plugin.succeeds))
            call = 0
            saved: Transition | None = None  # what the engine saved last: the repeat may not go behind it
            while True:
                call += 1
                rounds.woken.clear()
                first = rounds.call()
                again = rounds.call()
                if again.phase.is_failure and not first.phase.is_failure:
                    raise ConformanceError(
                        f"{plugin.handler}: handle() is not idempotent: called twice with the same state in "
                        f"round {call}, it returned {_describe(first)}, then {_describe(again)}"
                    )
                if first.phase.is_terminal and again.phase is not first.phase:
                    raise ConformanceError(
                        f"{plugin.handler}: handle() is not idempotent: called twice with the same state in "
                        f"round {call}, it ended the task ({_describe(first)}), then said {_describe(again)}; "
                        f"a repeated final call must end the same way (keep what ended it until finalize())"
                    )
                behind = phase_regressions([saved, again]) if saved is not None else []
                if behind:
                    raise ConformanceError(
                        f"{plugin.handler}: handle() is not idempotent: called again with the state saved "
                        f"after {saved.phase.name if saved else ''} (round {call}), it went back "
                        f"({behind[0].split(': ', 1)[1]}; the first call returned {first.phase.name})"
                    )
                saved = again
                rounds.keep(again)
                if again.phase.is_terminal:
                    break
                rounds.wait(again)
            if again.phase is not TaskPhase.SUCCESS:
                raise ConformanceError(
                    f"{plugin.handler}: with every call repeated, the succeeding task ended {_describe(again)}"
                )
            rounds.finalize()
        if plugin.submissions is not None and self._submissions(plugin) - before != 1:
            raise ConformanceError(
                f"{plugin.handler}: handle() is not idempotent: repeating each call submitted "
                f"{self._submissions(plugin) - before} jobs for one attempt (expected 1)"
            )
        if plugin.succeeds.outputs is not None:
            outputs = rounds.ctx.storage.read_proto(rounds.ctx.outputs_uri, literals_pb2.LiteralMap)
            if outputs != plugin.succeeds.outputs:
                raise ConformanceError(
                    f"{plugin.handler}: the succeeding task wrote {outputs}, expected {plugin.succeeds.outputs}"
                )

    def test_phases_move_forward(self, plugin: PluginUnderTest, tmp_path: Path) -> None:
        """From the first call to the end, phases never go back, nor versions within one phase."""
        _exempt_or_need(plugin, "phases_move_forward", plugin.succeeds, "a succeeding case")
        case = plugin.slow or plugin.succeeds
        with self._handler(plugin) as handler:
            rounds = _Rounds(plugin, handler, self._context(plugin, tmp_path, case))
            last = rounds.until(lambda t: False)
            rounds.finalize()
        problems = phase_regressions(rounds.transitions)
        if problems:
            seen = " -> ".join(f"{t.phase.name}/{t.version}" for t in rounds.transitions)
            raise ConformanceError(
                f"{plugin.handler}: phases went backwards: {'; '.join(problems)} (all calls: {seen})"
            )
        if last.phase is not TaskPhase.SUCCESS:
            raise ConformanceError(f"{plugin.handler}: the task ended {_describe(last)}, expected SUCCESS")

    def test_abort_and_finalize_are_safe_before_the_first_handle(
        self, plugin: PluginUnderTest, tmp_path: Path
    ) -> None:
        """``abort`` and ``finalize`` of an attempt never handled (empty state), twice each, do not raise."""
        _exempt_or_need(plugin, "abort_before_handle", plugin.succeeds, "a succeeding case")
        with self._handler(plugin) as handler:
            ctx = self._context(plugin, tmp_path, plugin.succeeds)
            for call in ("abort", "abort", "finalize", "finalize"):
                try:
                    getattr(handler, call)(ctx)
                except Exception as exc:
                    raise ConformanceError(
                        f"{plugin.handler}: {call}() before the first handle() raised "
                        f"{type(exc).__name__}: {exc}; with nothing started it must do nothing"
                    ) from exc
        if plugin.submissions is not None and self._submissions(plugin):
            raise ConformanceError(f"{plugin.handler}: abort() or finalize() before handle() submitted a job")

    def test_abort_is_idempotent(self, plugin: PluginUnderTest, tmp_path: Path) -> None:
        """A running task is aborted twice and finalized twice without raising, and it stops."""
        _exempt_or_need(plugin, "abort_is_idempotent", plugin.slow, "a slow case")
        with self._handler(plugin) as handler:
            rounds = self._start_slow(plugin, handler, tmp_path, "there was nothing running to abort")
            for call in ("abort", "abort", "finalize", "finalize"):
                try:
                    getattr(handler, call)(dataclasses.replace(rounds.ctx, exclusive=False))
                except Exception as exc:
                    raise ConformanceError(
                        f"{plugin.handler}: {call}() of a running task raised {type(exc).__name__}: {exc} "
                        f"(the engine calls it again after a crash: it must be idempotent)"
                    ) from exc
            if plugin.running is not None:
                running = plugin.running
                _wait_for(
                    lambda: running() == 0,
                    f"{plugin.handler}: the task still runs {WAIT_SECONDS:g} s after abort()",
                )

    def test_finalize_is_idempotent(self, plugin: PluginUnderTest, tmp_path: Path) -> None:
        """After success, ``finalize`` twice does not raise."""
        _exempt_or_need(plugin, "finalize_is_idempotent", plugin.succeeds, "a succeeding case")
        with self._handler(plugin) as handler:
            rounds = _Rounds(plugin, handler, self._context(plugin, tmp_path, plugin.succeeds))
            last = rounds.until(lambda t: False)
            if last.phase is not TaskPhase.SUCCESS:
                raise ConformanceError(
                    f"{plugin.handler}: the task ended {_describe(last)}, expected SUCCESS"
                )
            for _ in range(2):
                try:
                    rounds.finalize()
                except Exception as exc:
                    raise ConformanceError(
                        f"{plugin.handler}: finalize() after success raised {type(exc).__name__}: {exc} "
                        f"(the engine calls it again after a crash: it must be idempotent)"
                    ) from exc

    def test_state_round_trips_through_json(self, plugin: PluginUnderTest, tmp_path: Path) -> None:
        """Every plugin state survives JSON unchanged and is small; ``state_version`` is set."""
        _exempt_or_need(plugin, "state_round_trips", plugin.succeeds, "a succeeding case")
        with self._handler(plugin) as handler:
            if not isinstance(handler.state_version, int) or handler.state_version < 1:
                raise ConformanceError(
                    f"{plugin.handler}: state_version is {handler.state_version!r}; a positive int, bumped "
                    f"when the state's shape changes"
                )
            rounds = _Rounds(plugin, handler, self._context(plugin, tmp_path, plugin.succeeds))
            rounds.until(lambda t: False)  # every state goes through _json_state
            rounds.finalize()

    def test_restart_reattaches_without_a_second_submission(
        self, plugin: PluginUnderTest, tmp_path: Path
    ) -> None:
        """A new engine resumes the running task from its saved state: it finishes, submitted once."""
        _exempt_or_need(plugin, "restart_reattaches", plugin.slow, "a slow case")
        assert plugin.slow is not None
        before = self._submissions(plugin)
        run = self._engine(plugin, tmp_path, plugin.slow)
        try:
            run.start(plugin.slow.inputs)
            _until_in_flight(plugin, run)
            run.restart()
            state = run.run_to_end(timeout=WAIT_SECONDS * 2).state
            if state.phase.name != "SUCCEEDED":
                raise ConformanceError(
                    f"{plugin.handler}: after an engine restart the task ended {state.phase.name}: "
                    f"{run.node.error}"
                )
        finally:
            run.close()
        if plugin.submissions is not None and self._submissions(plugin) - before != 1:
            raise ConformanceError(
                f"{plugin.handler}: the restarted engine submitted the job again "
                f"({self._submissions(plugin) - before} submissions for one attempt)"
            )

    def test_user_error_is_a_user_error(self, plugin: PluginUnderTest, tmp_path: Path) -> None:
        """The failing task ends in a failure whose kind is USER, with a message."""
        _exempt_or_need(plugin, "user_error", plugin.fails_user, "a fails_user case")
        assert plugin.fails_user is not None
        with self._handler(plugin) as handler:
            rounds = _Rounds(plugin, handler, self._context(plugin, tmp_path, plugin.fails_user))
            last = rounds.until(lambda t: False)
            rounds.finalize()
        if last.error is None or last.error.kind is not ErrorKind.USER:
            raise ConformanceError(
                f"{plugin.handler}: the user's failure ended {_describe(last)}; expected a USER error "
                f"(it consumes the task's retries, not the system's)"
            )
        if not last.error.message:
            raise ConformanceError(f"{plugin.handler}: the user's failure has no message")

    def test_system_error_is_a_system_error(self, plugin: PluginUnderTest, tmp_path: Path) -> None:
        """With the external system unreachable, the task fails with a SYSTEM error (no hang, no raise)."""
        _exempt_or_need(plugin, "system_error", plugin.unreachable, "an unreachable section")
        assert plugin.unreachable is not None
        with self._handler(plugin, plugin.unreachable) as handler:
            rounds = _Rounds(plugin, handler, self._context(plugin, tmp_path, plugin.succeeds))
            # no finalize: its cleanup needs the system too, and the engine retries a cleanup that raises
            last = rounds.until(lambda t: False)
        if last.error is None or last.error.kind is not ErrorKind.SYSTEM:
            raise ConformanceError(
                f"{plugin.handler}: with the external system unreachable the task ended {_describe(last)}; "
                f"expected a SYSTEM error (it consumes the system's retries, not the user's)"
            )

    def test_retries_are_honoured(self, plugin: PluginUnderTest, tmp_path: Path) -> None:
        """On the engine, with 2 retries, a retryable user failure runs 3 attempts (each a new job) and a
        permanent one runs 1."""
        _exempt_or_need(plugin, "retries", plugin.fails_user, "a fails_user case")
        assert plugin.fails_user is not None
        with self._handler(plugin) as handler:
            probe_ctx = self._context(plugin, tmp_path / "probe", plugin.fails_user, execution="probe")
            rounds = _Rounds(plugin, handler, probe_ctx)
            probe = rounds.until(lambda t: False)
            rounds.finalize()
        if not probe.phase.is_failure:
            raise ConformanceError(f"{plugin.handler}: the failing task ended {_describe(probe)}")
        retryable = probe.phase is TaskPhase.RETRYABLE_FAILURE
        expected = 3 if retryable else 1
        case = dataclasses.replace(
            plugin.fails_user, template=_with_task_options(plugin.fails_user.template, retries=2)
        )
        before = self._submissions(plugin)
        run = self._engine(plugin, tmp_path / "engine", case)
        try:
            run.start(case.inputs)
            state = run.run_to_end(timeout=WAIT_SECONDS * 2).state
            node = run.node
        finally:
            run.close()
        if state.phase.name != "FAILED" or node.error is None:
            raise ConformanceError(f"{plugin.handler}: the failing task's execution ended {state.phase.name}")
        if node.attempt + 1 != expected:
            raise ConformanceError(
                f"{plugin.handler}: with 2 retries the {'retryable' if retryable else 'permanent'} failure ran "
                f"{node.attempt + 1} attempts, expected {expected}; the last one ended with {node.error}"
            )
        if plugin.submissions is not None and self._submissions(plugin) - before not in (0, expected):
            raise ConformanceError(
                f"{plugin.handler}: {expected} attempts submitted {self._submissions(plugin) - before} jobs: "
                f"each attempt needs a job of its own (key jobs by attempt, not by node)"
            )

    def test_timeout_is_honoured(
        self, plugin: PluginUnderTest, tmp_path: Path, fake_clock: FakeClock
    ) -> None:
        """On the engine, a task whose 1 s timeout passes (on a fake clock) fails and its job is aborted."""
        _exempt_or_need(plugin, "timeout", plugin.slow, "a slow case")
        assert plugin.slow is not None
        case = dataclasses.replace(plugin.slow, template=_with_task_options(plugin.slow.template, timeout=1))
        run = self._engine(plugin, tmp_path, case, clock=fake_clock)
        try:
            run.start(case.inputs)
            _until_in_flight(plugin, run)
            fake_clock.advance(5)
            run.round()
            node = run.node
            ended = node.phase in (NodePhase.FAILED, NodePhase.TIMED_OUT)
            if not ended or node.error is None or "timed out" not in node.error.message:
                raise ConformanceError(
                    f"{plugin.handler}: after its timeout passed the task is {node.phase.name} ({node.error})"
                )
            if plugin.running is not None:
                running = plugin.running
                _wait_for(
                    lambda: running() == 0,
                    f"{plugin.handler}: the task still runs {WAIT_SECONDS:g} s after its timeout",
                )
        finally:
            run.close()

    def test_template_compiles_and_custom_round_trips(self, plugin: PluginUnderTest) -> None:
        """Each case's TaskTemplate compiles with the core compiler and survives serialization; ``custom``
        parses as the plugin's flyteidl message without unknown fields and writes back the same."""
        _exempt_or_need(plugin, "template", plugin.succeeds, "a succeeding case")
        from roost_core.compiler import CompileError

        for case in (plugin.succeeds, plugin.slow, plugin.fails_user):
            if case is None:
                continue
            template = case.template
            label = f"{plugin.handler}: task {template.id.name!r} ({template.type})"
            try:
                one_task_workflow(template)
            except CompileError as exc:
                raise ConformanceError(f"{label} does not compile: {exc}") from None
            if tasks_pb2.TaskTemplate.FromString(template.SerializeToString()) != template:
                raise ConformanceError(f"{label}: the TaskTemplate changes when serialized and parsed")
            if plugin.custom_message is None:
                continue
            stored = json_format.MessageToDict(template.custom)
            try:
                message = json_format.ParseDict(stored, plugin.custom_message())
            except json_format.ParseError as exc:
                name = plugin.custom_message.DESCRIPTOR.full_name
                raise ConformanceError(f"{label}: TaskTemplate.custom is not a valid {name}: {exc}") from None
            back = json_format.MessageToDict(message)
            if json.loads(json.dumps(back), parse_int=float) != json.loads(
                json.dumps(stored), parse_int=float
            ):
                raise ConformanceError(f"{label}: TaskTemplate.custom {stored!r} writes back as {back!r}")

    def test_runs_in_a_local_run(self, plugin: PluginUnderTest, tmp_path: Path) -> None:
        """The example workflow runs with ``roost run`` and prints the expected outputs."""
        _exempt_or_need(plugin, "local_run", plugin.example, "an example")
        assert plugin.example is not None
        example = plugin.example
        env = {**_clean_env(tmp_path), **example.env}
        command = [
            _tool("roost"),
            "run",
            "--no-progress",
            "-o",
            "json",
            example.file,
            example.workflow,
            *example.args,
        ]
        result = subprocess.run(
            command, capture_output=True, text=True, env=env, cwd=example.folder, timeout=300, check=False
        )
        if result.returncode != 0:
            raise ConformanceError(f"{plugin.handler}: `roost run` of the example failed:\n{result.stderr}")
        if json.loads(result.stdout) != example.expected:
            raise ConformanceError(
                f"{plugin.handler}: `roost run` printed {result.stdout.strip()}, expected {example.expected}"
            )

    def test_runs_on_roost_start(
        self, plugin: PluginUnderTest, tmp_path: Path, request: pytest.FixtureRequest
    ) -> None:
        """The example workflow runs on a ``roost start`` server configured with the handler's settings."""
        _exempt_or_need(plugin, "roost_start", plugin.example, "an example")
        assert plugin.example is not None
        example = plugin.example
        try:
            start: Callable[..., Any] = request.getfixturevalue("roost_start")
        except pytest.FixtureLookupError:
            pytest.skip("`roost start` needs roost-admin installed (its pytest plugin gives `roost_start`)")
        server = start(tmp_path / "server", example.server_settings)
        command = [_tool("roost"), "run", "--remote", "--wait", "--no-progress", "-o", "json"]
        result = subprocess.run(
            [*command, example.file, example.workflow, *example.args],
            capture_output=True,
            text=True,
            env=server.client_env(tmp_path / "client", base=_clean_env(tmp_path)),
            cwd=example.folder,
            timeout=300,
            check=False,
        )
        if result.returncode != 0:
            raise ConformanceError(
                f"{plugin.handler}: the example failed on `roost start`:\n{result.stderr}\n{server.log()}"
            )
        if json.loads(result.stdout) != example.expected:
            raise ConformanceError(
                f"{plugin.handler}: on `roost start` the example printed {result.stdout.strip()}, "
                f"expected {example.expected}"
            )


def _tool(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def _clean_env(tmp_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ROOST_")}
    return {**env, "XDG_DATA_HOME": str(tmp_path / "data"), "ROOST_CACHE_DIR": str(tmp_path / "cache")}


# fixtures (this module is the `pytest11` plugin)


@pytest.fixture
def fake_clock() -> FakeClock:
    """A clock that moves only when told to (``advance``): for engines and remote-job handlers."""
    return FakeClock()


@pytest.fixture
def one_task_engine(tmp_path: Path) -> Iterator[Callable[..., OneTaskEngine]]:
    """Builds :class:`OneTaskEngine` s (task template, then its keyword arguments) with file storage under
    ``tmp_path``; closes them after the test."""
    built: list[OneTaskEngine] = []

    def make(task: tasks_pb2.TaskTemplate, **options: Any) -> OneTaskEngine:
        options.setdefault("data_prefix", f"file://{tmp_path}/data")
        engine = OneTaskEngine(task, options.pop("storage", None) or file_storage(tmp_path), **options)
        built.append(engine)
        return engine

    yield make
    for engine in built:
        engine.close()
