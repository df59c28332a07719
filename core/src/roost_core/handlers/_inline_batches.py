"""Map indices of the local-process handler started in batches of warm processes (its inline runner).

A node's runner keeps up to :data:`~roost_core.handlers.local_process.INLINE_LANES` batch children of the task's
warm fork server (see :mod:`roost_core.handlers._warm`), each starting one index's ordinary attempt at a time, and
lives as long as the engine calls it (:data:`INLINE_IDLE`).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import select
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flyteidl.core import literals_pb2

from roost_core.errors import ErrorKind
from roost_core.handler import InlineBatch, TaskContext, TaskPhase, Transition
from roost_core.handlers._warm_pool import WarmEntry, WarmPools, warm_entry
from roost_core.handlers.local_process import (
    INLINE_LANES,
    LocalProcessHandler,
    _AttemptFiles,
    _inherited_environment,
    _spec,
    _storage_refusal,
)
from roost_core.storage import StorageError

logger = logging.getLogger(__name__)

INLINE_HANDOFF = 0.25
"""Seconds past a batch's deadline that its runner waits for the batch's first index to end."""
INLINE_IDLE = 2.0
"""Seconds after which a node's runner that the engine no longer calls closes its batch children."""


@dataclass(slots=True)
class _Lane:
    """One batch child: the handler's ends of its pipes, and how many attempts sent to it are not reported yet."""

    results: int
    specs: int
    sent: int = 0
    """Spec paths sent that it did not write back yet."""
    received: bytes = b""
    env: dict[str, str] = field(default_factory=dict)
    """The environment of the last spec sent: the next one is sent as the changes from it."""

    def close_specs(self) -> None:
        """Send nothing more: the child exits once it is done with what it was sent."""
        if self.specs >= 0:
            os.close(self.specs)
            self.specs = -1

    def close(self) -> None:
        """Close both pipes: the child exits once the attempts it started ended."""
        for fd in (self.specs, self.results):
            if fd >= 0:
                os.close(fd)
        self.specs = self.results = -1


@dataclass(slots=True)
class _Sent:
    """An index sent to a lane, until it ended."""

    ctx: TaskContext
    files: _AttemptFiles
    lane: _Lane | None
    """None once its lane is gone or another process runs it: its result file is watched instead."""


class NodeRunner:
    """The inline runner of one array node attempt's indices on the local-process handler.

    Each index is an ordinary attempt (folder, spec, claim, lock, supervisor, logs, result file) started by one of
    the node's warm batch children (see :mod:`roost_core.handlers._warm`) instead of by a request to the fork
    server and handler rounds of its own: whoever looks at an index later (an engine after a restart, or an ordinary
    attempt once the engine stopped running the node inline) finds it as any attempt, running, ended, or prepared
    and not started yet (which it starts itself). The children live across calls, so that indices keep running
    while the engine saves its state. Each call sends the batch's next indices (no more in flight than the batch
    holds: the node's parallelism), reads what ended until the deadline, and returns the outcomes of the batch's
    first indices that ended, then None for each later index it holds (running, or ended out of order).
    """

    def __init__(self, handler: LocalProcessHandler, pools: WarmPools, runners: NodeRunners) -> None:
        self.handler = handler
        self.pools = pools
        self.runners = runners
        self.lock = threading.Lock()
        self.entry: WarmEntry | None = None
        self.lanes: list[_Lane] = []
        self.sent: dict[str, _Sent] = {}
        """In flight, by spec path (what a lane writes back once it is done with it)."""
        self.held: dict[str, _Sent | tuple[_Sent, Transition]] = {}
        """By node id: in flight, or ended with its outcome, until the outcome is returned."""
        self.last_used = time.monotonic()
        self.closed = False
        self.inherited: dict[str, str] | None = None
        """The engine's environment its attempts inherit, looked up once."""

    def __call__(self, batch: InlineBatch) -> list[literals_pb2.LiteralMap | Transition | None]:
        with self.lock:
            if self.closed:  # let go of while the engine looked elsewhere: new children start as needed
                self.closed = False
                self.lanes = []
                for sent in self.sent.values():
                    sent.lane = None
                self.runners.keep(self)
            try:
                return self._run(batch)
            finally:
                self.last_used = time.monotonic()

    def idle(self, now: float) -> bool:
        """Whether the engine has not called it for :data:`INLINE_IDLE` seconds (and is not calling it now)."""
        return not self.lock.locked() and now - self.last_used > INLINE_IDLE

    def close(self) -> None:
        """Close the batch children (they end what they were sent, then exit); a later call starts new ones."""
        with self.lock:
            self.closed = True
            for lane in self.lanes:
                lane.close()

    def _run(self, batch: InlineBatch) -> list[literals_pb2.LiteralMap | Transition | None]:
        ids = batch.node_ids
        self._feed(batch)
        while not all(isinstance(self.held.get(node_id), tuple) for node_id in ids):
            late = time.perf_counter() - batch.deadline
            if late >= 0 and (late >= INLINE_HANDOFF or isinstance(self.held.get(ids[0]), tuple)):
                break
            listening = {lane.results: lane for lane in self.lanes if lane.results >= 0 and lane.sent}
            watched = [sent for sent in self.sent.values() if sent.lane is None]
            if not (listening or watched):
                break
            timeout = -late if late < 0 else INLINE_HANDOFF - late
            ready, _, _ = select.select(list(listening), [], [], min(timeout, 0.01) if watched else timeout)
            for fd in ready:
                self._read(listening[fd])
            for sent in watched:
                if sent.files.result.exists() or not _held(sent.files.lock):
                    self._end(sent)
            self._feed(batch)
        outcomes: list[literals_pb2.LiteralMap | Transition | None] = []
        running = False  # outcomes after an index still running wait, so that ended indices stay in order
        for node_id in ids:
            held = self.held.get(node_id)
            if held is None:
                break
            if not running and isinstance(held, tuple):
                del self.held[node_id]
                outcomes.append(_inline_outcome(held[0].ctx, held[1]))
            else:
                running = True
                outcomes.append(None)
        return outcomes

    def _feed(self, batch: InlineBatch) -> None:
        """Send the batch's indices not held yet, in order, while lanes have room, until the deadline (the
        batch's first index always goes)."""
        handler = self.handler
        for offset, node_id in enumerate(batch.node_ids):
            if node_id in self.held:
                continue
            if len(self.sent) >= len(batch.node_ids) or (self.sent and time.perf_counter() > batch.deadline):
                return
            lane = self._lane_with_room()
            if lane is None and len([lane for lane in self.lanes if lane.results >= 0]) >= INLINE_LANES:
                return
            ctx = batch.context(offset)
            files = _AttemptFiles.for_attempt(ctx, handler.settings)
            sent = _Sent(ctx, files, lane)
            if files.folder.exists():  # left by an earlier runner or engine: as its ordinary attempt finds it
                result = files.read_json(files.result)
                if result is None:
                    return
                self.held[node_id] = (sent, handler._outcome(ctx, files, result))
                continue
            if self.inherited is None:
                self.inherited = _inherited_environment(handler.settings)
            spec = _storage_refusal(ctx) or _spec(ctx, handler.settings, files, self.inherited)
            if isinstance(spec, Transition):  # it cannot start: that is its outcome
                self.held[node_id] = (sent, spec)
                continue
            entry = warm_entry(spec["argv"], spec["env"])
            if entry is not None and (self.entry is None or entry.key == self.entry.key):
                self.entry = entry
                sent.lane = lane or self._open_lane(entry, spec["env"], ctx)
            if sent.lane is None or not self._send(
                sent, spec
            ):  # not a warm start here: an ordinary attempt's
                return
            self.held[node_id] = sent

    def _send(self, sent: _Sent, spec: dict[str, Any]) -> bool:
        """Send the attempt to its lane, which makes its folder and files (see :func:`._supervise.prepare_attempt`)
        and starts it."""
        lane = sent.lane
        assert lane is not None
        path = str(sent.files.spec)
        # The environment as the changes from the last one sent: the attempts of a node differ in a few variables.
        env, last = spec["env"], lane.env
        changes = {name: value for name, value in env.items() if last.get(name) != value}
        removed = [name for name in last if name not in env]
        line = {"spec_path": path, "spec": {**spec, "env": changes}, "env_removed": removed}
        lane.env = env
        try:
            os.write(lane.specs, json.dumps(line).encode() + b"\n")
        except BrokenPipeError:  # the child is gone: its end of file is read next
            lane.close_specs()
            return False
        lane.sent += 1
        self.sent[path] = sent
        return True

    def _lane_with_room(self) -> _Lane | None:
        # One attempt per child at a time: one sent behind a long attempt would wait for it.
        return next((lane for lane in self.lanes if lane.specs >= 0 and not lane.sent), None)

    def _open_lane(self, entry: WarmEntry, env: Mapping[str, str], ctx: TaskContext) -> _Lane | None:
        self.lanes = [lane for lane in self.lanes if lane.results >= 0]
        if len(self.lanes) >= INLINE_LANES:
            return None
        results_read, results_write = os.pipe()
        specs_read, specs_write = os.pipe()
        try:
            pid = self.pools.start_batch(entry, env, results_write, specs_read)
        finally:
            os.close(results_write)
            os.close(specs_read)
        if pid is None:
            os.close(results_read)
            os.close(specs_write)
            return None
        if not self.lanes:
            execution = ctx.task_execution_id.node_execution_id.execution_id.name
            logger.info(
                "execution %s: map task %r starts its indices in warm batches", execution, ctx.task.id.name
            )
        lane = _Lane(results_read, specs_write)
        self.lanes.append(lane)
        return lane

    def _read(self, lane: _Lane) -> None:
        """Take what the lane wrote back about each attempt it is done with (ended, with its result and process
        files when it read them; or skipped because another process runs it); at its end, watch what it was
        sent."""
        data = os.read(lane.results, 1 << 16)
        if not data:
            lane.close()
            for sent in self.sent.values():
                if sent.lane is lane:
                    sent.lane = None
            return
        lane.received += data
        *lines, lane.received = lane.received.split(b"\n")
        for line in lines:
            lane.sent -= 1
            report = json.loads(line)
            done = self.sent.get(report["spec"])
            if done is None:  # watched already
                continue
            if "result" in report:
                self._end(done, report["result"], report.get("process"))
            elif done.files.result.exists() or not _held(done.files.lock):
                self._end(done)
            else:  # another process runs it (an ordinary attempt took it over)
                done.lane = None

    def _end(
        self,
        sent: _Sent,
        result: dict[str, Any] | None = None,
        process: dict[str, Any] | None = None,
    ) -> None:
        """The index's attempt ended: its outcome, from its result (and process) file, read here unless given; lost
        if its supervisor died without one, or if no process started it (the lane that was sent it is gone)."""
        ctx, files = sent.ctx, sent.files
        del self.sent[str(files.spec)]
        if result is None:
            result = files.read_json(files.result)
        outcome = (
            self.handler._lost(ctx, files)
            if result is None
            else self.handler._outcome(ctx, files, result, process)
        )
        self.held[ctx.node_id] = (sent, outcome)


class NodeRunners:
    """The handler's node runners, and the thread that closes those the engine stopped calling."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.runners: list[NodeRunner] = []
        self.reaper: threading.Thread | None = None

    def new(self, handler: LocalProcessHandler, pools: WarmPools) -> NodeRunner:
        """A runner for one node attempt, kept until it is idle."""
        runner = NodeRunner(handler, pools, self)
        self.keep(runner)
        return runner

    def keep(self, runner: NodeRunner) -> None:
        """Close ``runner`` once it is idle (or with the others)."""
        with self.lock:
            self.runners.append(runner)
            if self.reaper is None:
                self.reaper = threading.Thread(target=self._reap, name="roost-inline-reaper", daemon=True)
                self.reaper.start()

    def close(self) -> None:
        """Close every runner."""
        with self.lock:
            runners, self.runners = self.runners, []
        for runner in runners:
            runner.close()

    def _reap(self) -> None:
        done = False
        while not done:
            time.sleep(INLINE_IDLE / 2)
            now = time.monotonic()
            with self.lock:
                idle = [runner for runner in self.runners if runner.idle(now)]
                self.runners = [runner for runner in self.runners if runner not in idle]
                if not self.runners:
                    self.reaper, done = None, True
            for runner in idle:
                runner.close()


def _inline_outcome(ctx: TaskContext, transition: Transition) -> literals_pb2.LiteralMap | Transition:
    """What an inline runner returns for an index whose attempt ended with ``transition``."""
    if transition.phase is not TaskPhase.SUCCESS:
        return transition
    task = ctx.task.id.name
    try:
        if ctx.storage.exists(ctx.futures_uri):
            return Transition.failure(
                "DynamicInMap", f"task {task!r}: a mapped task cannot be dynamic", retryable=False
            )
        if not ctx.storage.exists(ctx.outputs_uri):
            return literals_pb2.LiteralMap()  # it declares no outputs (completion_transition checked)
        return ctx.storage.read_proto(ctx.outputs_uri, literals_pb2.LiteralMap)
    except StorageError as exc:
        return Transition.failure(
            "OutputsUnreadable", f"task {task!r}: cannot read its outputs: {exc}", kind=ErrorKind.SYSTEM
        )


def _held(lock: Path) -> bool:
    """Whether a process holds the attempt's lock (its supervisor lives)."""
    try:
        fd = os.open(lock, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
