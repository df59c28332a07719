"""Local Ray runtimes: a Ray head on this machine, started with ``ray start --head --block`` and bounded in CPUs
and object-store memory, shared by the tasks whose shape matches.

A runtime runs in a session of its own (``start_new_session``): its GCS server, raylet, dashboard, agents and
every Ray worker it forks belong to that session, so stopping it signals every process whose session id is the
runtime's, and nothing of it survives. Nothing here imports ``ray``: the ``ray`` command of the environment that
will run the tasks starts the head (a driver must use the same Ray version as the cluster it joins).

:class:`RuntimePool` hands out runtimes by :class:`RuntimeShape`: tasks of the same shape share one runtime
while it lives, and it stops ``idle_timeout`` seconds after its last user released it (or at once when reuse is
off, or when the pool closes).
"""

from __future__ import annotations

import atexit
import contextlib
import math
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "MIN_OBJECT_STORE_MEMORY",
    "RayRuntime",
    "RuntimePool",
    "RuntimeShape",
    "RuntimeStartError",
    "kill_session",
    "parse_cpu",
    "parse_memory",
    "session_processes",
    "started_sessions",
]

MIN_OBJECT_STORE_MEMORY = 78_643_200
"""Ray refuses an object store smaller than 75 MiB."""
_READY_LINE = "Ray runtime started"
_LOG_TAIL_LINES = 30
_MEMORY_SUFFIXES = {
    "Ki": 1024,
    "Mi": 1024**2,
    "Gi": 1024**3,
    "Ti": 1024**4,
    "K": 1000,
    "k": 1000,
    "M": 1000**2,
    "G": 1000**3,
    "T": 1000**4,
}
# ray start flags a task's head_node_config may pass through to a local head: they shape what the head offers
# its tasks. Ports, addresses, folders and the like stay the runtime's own.
PASSED_START_PARAMS = frozenset({"num-gpus", "resources"})


_started: set[int] = set()


def started_sessions() -> set[int]:
    """The sessions of every runtime this process started (stopped ones included): what to look for when
    checking that nothing was left running."""
    return set(_started)


class RuntimeStartError(Exception):
    """A local Ray runtime did not start; the message holds the command's last lines of output."""


@dataclass(frozen=True, order=True)
class RuntimeShape:
    """What a runtime offers: tasks with the same shape may share one runtime."""

    num_cpus: int
    object_store_memory: int
    memory: int | None = None
    ray: str = "ray"
    """The ``ray`` command that starts the head (that of the task's Python environment)."""
    start_params: tuple[tuple[str, str], ...] = ()
    """Extra ``ray start`` flags (only :data:`PASSED_START_PARAMS`)."""
    include_dashboard: bool = False

    def describe(self) -> str:
        """``2 CPUs, 256 MiB object store``: for messages."""
        return f"{self.num_cpus} CPUs, {self.object_store_memory // 1024**2} MiB object store"


def parse_cpu(value: str) -> float:
    """A Kubernetes CPU quantity (``2``, ``500m``, ``1.5``) as a number of CPUs."""
    text = value.strip()
    if text.endswith("m"):
        return float(text[:-1]) / 1000
    return float(text)


def parse_memory(value: str) -> int:
    """A Kubernetes memory quantity (``1Gi``, ``500M``, ``1000000``) in bytes."""
    text = value.strip()
    for suffix, factor in sorted(_MEMORY_SUFFIXES.items(), key=lambda item: -len(item[0])):
        if text.endswith(suffix):
            return int(float(text[: -len(suffix)]) * factor)
    return int(float(text))


def cpus_of(value: str | None, default: int) -> int:
    """Whole CPUs for a Ray node from a CPU quantity (rounded up, at least 1), or ``default``."""
    if not value:
        return default
    return max(1, math.ceil(parse_cpu(value)))


@dataclass
class RayRuntime:
    """One local Ray head: its address once ready, and the session its processes belong to."""

    shape: RuntimeShape
    temp_dir: Path
    address: str = ""
    session: int | None = None
    """The session id of its processes (the pid of ``ray start``)."""
    error: str | None = None
    dashboard: str = ""
    """The dashboard's URL, when the runtime has one."""
    ready: threading.Event = field(default_factory=threading.Event)
    users: set[str] = field(default_factory=set)
    idle_since: float | None = None
    _process: subprocess.Popen[bytes] | None = None
    # stop() may come while start() runs in its thread (an attempt aborted while its runtime starts): the lock
    # orders it with the launch of `ray start`, so either no head is launched or stop() kills the one that was.
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopped: bool = False

    @property
    def log(self) -> Path:
        """The output of ``ray start``."""
        return self.temp_dir / "ray-start.log"

    def start(self, timeout: float) -> None:
        """Start the head and wait until it is ready (or failed: ``error`` says why)."""
        try:
            self._start(timeout)
        except RuntimeStartError as exc:
            self.error = str(exc)
            self.stop()
        finally:
            self.ready.set()

    def _start(self, timeout: float) -> None:
        self.temp_dir.mkdir(parents=True, exist_ok=True)
        port, client_port, agent_port, dashboard_port = _free_ports(4)
        shape = self.shape
        argv = [
            shape.ray,
            "start",
            "--head",
            "--block",
            f"--port={port}",
            f"--ray-client-server-port={client_port}",
            f"--dashboard-agent-listen-port={agent_port}",
            f"--dashboard-port={dashboard_port}",
            "--dashboard-host=127.0.0.1",
            f"--include-dashboard={'true' if shape.include_dashboard else 'false'}",
            f"--num-cpus={shape.num_cpus}",
            f"--object-store-memory={shape.object_store_memory}",
            f"--temp-dir={self.temp_dir}",
            "--disable-usage-stats",
            *([f"--memory={shape.memory}"] if shape.memory else []),
            *(f"--{name}={value}" for name, value in shape.start_params),
        ]
        # One try at installing a runtime environment: Ray's default three (each building a virtualenv) makes a
        # broken one take minutes to report; what fails to install once fails again.
        env = {"RUNTIME_ENV_RETRY_TIMES": "1", **os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
        env.pop("RAY_ADDRESS", None)
        with self._lock:
            if self._stopped:
                raise RuntimeStartError("it was stopped before it started")
            with open(self.log, "wb") as log:
                try:
                    process = subprocess.Popen(
                        argv,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                        env=env,
                    )
                except OSError as exc:
                    raise RuntimeStartError(f"could not run {shape.ray!r}: {exc}") from None
            self._process = process
            self.session = process.pid
            _started.add(process.pid)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._stopped:
                raise RuntimeStartError("it was stopped while it started")
            if _READY_LINE in self.log_text():
                self.address = f"127.0.0.1:{port}"
                self.dashboard = f"http://127.0.0.1:{dashboard_port}" if shape.include_dashboard else ""
                return
            if process.poll() is not None:
                if self._stopped:  # stop() set this before it killed the head
                    raise RuntimeStartError("it was stopped while it started")
                raise RuntimeStartError(
                    f"`ray start --head` exited with code {process.returncode}; {self.log_tail()}"
                )
            time.sleep(0.1)
        raise RuntimeStartError(f"`ray start --head` was not ready after {timeout:.0f}s; {self.log_tail()}")

    def log_text(self) -> str:
        """``ray start``'s output so far (empty when its folder is gone)."""
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self) -> str:
        """The last lines of ``ray start``'s output."""
        lines = self.log_text().splitlines()[-_LOG_TAIL_LINES:]
        return "last lines of its output:\n" + "\n".join(lines) if lines else "no output"

    def stop(self) -> None:
        """Kill every process of the runtime, then remove its folder; safe while it starts (it then stops
        starting) and when called again."""
        with self._lock:
            self._stopped = True
            session = self.session
        if session is not None:
            kill_session(session)
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=5)
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def session_processes(session: int) -> list[int]:
    """The pids of the live processes in a session (zombies, dead but not yet reaped, are left out)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getsid(int(entry)) == session and not _zombie(entry):
                    found.append(int(entry))
            except (ProcessLookupError, PermissionError):
                continue
    return found


def _zombie(pid: str) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # gone
    return stat[stat.rindex(")") + 2 :].startswith(("Z", "X"))


def kill_session(session: int, *, grace: float = 2.0) -> None:
    """SIGTERM every process of the session, SIGKILL what is left after ``grace`` seconds, and wait (as long
    again) for those to be gone."""
    _signal_all(session_processes(session), signal.SIGTERM)
    if _gone(session, grace):
        return
    _signal_all(session_processes(session), signal.SIGKILL)
    _gone(session, grace)


def _gone(session: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not session_processes(session):
            return True
        time.sleep(0.05)
    return not session_processes(session)


def _signal_all(pids: Iterable[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class RuntimePool:
    """Local Ray runtimes by shape, shared by the tasks that fit them.

    ``acquire`` returns at once; the runtime starts in a thread and ``on_ready`` is called when it is ready
    or failed. A runtime stops ``idle_timeout`` seconds after its last user released it (at once with
    ``reuse=False``), and every runtime stops when the pool closes.
    """

    def __init__(
        self,
        *,
        temp_root: Path | None = None,
        reuse: bool = True,
        idle_timeout: float = 60.0,
        start_timeout: float = 120.0,
    ) -> None:
        self.temp_root = temp_root or Path(tempfile.gettempdir())
        self.reuse = reuse
        self.idle_timeout = idle_timeout
        self.start_timeout = start_timeout
        self._runtimes: dict[str, RayRuntime] = {}
        # Runtimes another thread (the idle reaper) is stopping: close() stops them too, so a process that ends
        # while a reaper is between SIGTERM and SIGKILL does not leave a Ray head running.
        self._stopping: list[RayRuntime] = []
        self._lock = threading.Lock()
        self._closed = False
        self._reaper: threading.Timer | None = None
        # A process that exits normally without closing its pool still stops its runtimes.
        atexit.register(self.close)

    def acquire(
        self, shape: RuntimeShape, user: str, on_ready: Callable[[], None] = lambda: None
    ) -> RayRuntime:
        """The runtime ``user`` runs on: the one it already holds, a live one of the same shape, or a new one."""
        with self._lock:
            for held in self._runtimes.values():
                if user in held.users:
                    return held
            if self._closed:
                raise RuntimeStartError("the Ray runtime pool is closed")
            runtime = next(
                (r for r in self._runtimes.values() if r.shape == shape and self.reuse and r.error is None),
                None,
            )
            if runtime is None:
                # Short: Ray's socket paths under the folder must stay within the 107 bytes of a Unix socket.
                folder = self.temp_root / f"roost-ray-{uuid.uuid4().hex[:8]}"
                runtime = RayRuntime(shape, folder)
                self._runtimes[str(folder)] = runtime
                threading.Thread(
                    target=runtime.start,
                    args=(self.start_timeout,),
                    name=f"ray start {folder.name}",
                    daemon=True,
                ).start()
            runtime.users.add(user)
            runtime.idle_since = None
        if runtime.ready.is_set():
            on_ready()
        else:
            threading.Thread(target=_when_set, args=(runtime.ready, on_ready), daemon=True).start()
        return runtime

    def holder(self, user: str) -> RayRuntime | None:
        """The runtime ``user`` holds, if any."""
        with self._lock:
            return next((r for r in self._runtimes.values() if user in r.users), None)

    def release(self, user: str, *, stop_if_alone: bool = False) -> None:
        """``user`` is done with its runtime; with ``stop_if_alone`` a runtime nobody else uses stops now."""
        stop: list[RayRuntime] = []
        with self._lock:
            for key, runtime in list(self._runtimes.items()):
                if user not in runtime.users:
                    continue
                runtime.users.discard(user)
                if runtime.users:
                    continue
                if stop_if_alone or not self.reuse or runtime.error is not None or self.idle_timeout <= 0:
                    del self._runtimes[key]
                    stop.append(runtime)
                    self._stopping.append(runtime)
                else:
                    runtime.idle_since = time.monotonic()
                    if not math.isinf(self.idle_timeout):
                        self._schedule_reaper()
        self._stop(stop)

    def runtimes(self) -> list[RayRuntime]:
        """The runtimes alive or starting."""
        with self._lock:
            return list(self._runtimes.values())

    def close(self) -> None:
        """Stop every runtime but those attempts run on. Those are left running, as the attempts' processes
        are: the next engine re-attaches to the attempts and stops such a runtime when its attempt ends (see
        ``RayLocalHandler``). A runtime still starting is stopped: no driver runs on it yet."""
        with self._lock:
            self._closed = True
            runtimes = [
                *(
                    r
                    for r in self._runtimes.values()
                    if not (r.users and r.ready.is_set() and r.error is None)
                ),
                *self._stopping,
            ]
            self._runtimes.clear()
            if self._reaper is not None:
                self._reaper.cancel()
        for runtime in runtimes:
            runtime.ready.wait(self.start_timeout)
            runtime.stop()

    def _schedule_reaper(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
        self._reaper = threading.Timer(self.idle_timeout + 0.1, self._reap)
        self._reaper.daemon = True
        self._reaper.start()

    def _reap(self) -> None:
        now = time.monotonic()
        stop = []
        with self._lock:
            for key, runtime in list(self._runtimes.items()):
                if runtime.idle_since is not None and now - runtime.idle_since >= self.idle_timeout:
                    del self._runtimes[key]
                    stop.append(runtime)
                    self._stopping.append(runtime)
            if any(r.idle_since is not None for r in self._runtimes.values()):
                self._schedule_reaper()
        self._stop(stop)

    def _stop(self, runtimes: list[RayRuntime]) -> None:
        """Stop ``runtimes``, moved from ``_runtimes`` to ``_stopping`` (in one hold of the lock, so that
        :meth:`close` always sees them)."""
        try:
            for runtime in runtimes:
                runtime.stop()
        finally:
            with self._lock:
                self._stopping = [r for r in self._stopping if all(r is not s for s in runtimes)]


def _when_set(event: threading.Event, call: Callable[[], None]) -> None:
    event.wait()
    call()


def shape_for(
    resources: Mapping[str, str],
    *,
    default_cpus: int,
    default_object_store: int,
    object_store_fraction: float,
    ray: str,
    head_params: Mapping[str, str] | None = None,
    include_dashboard: bool = False,
) -> RuntimeShape:
    """A runtime's shape from a task's resources (``cpu`` and ``memory``: limits, else requests)."""
    cpus = cpus_of(resources.get("cpu"), default_cpus)
    memory = parse_memory(resources["memory"]) if resources.get("memory") else None
    store = default_object_store if memory is None else int(memory * object_store_fraction)
    store = max(store, MIN_OBJECT_STORE_MEMORY)
    passed = tuple(sorted((k, v) for k, v in (head_params or {}).items() if k in PASSED_START_PARAMS))
    return RuntimeShape(cpus, store, memory, ray, passed, include_dashboard)
