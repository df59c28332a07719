"""Warm task processes for the ``local-process`` handler: which attempts may start warm, and the fork servers.

An attempt may start warm when its command is a console script (as installers write them: a ``#!`` line naming
an absolute Python interpreter, then ``from MODULE import FUNCTION`` and ``sys.exit(FUNCTION())``), found on the
task environment's ``PATH``, every ``PYTHONPATH`` entry is absolute (relative ones depend on the working
folder), and the task's environment does not hold ``ROOST_WARM_PROCESS=0``. Such attempts of one environment
(interpreter, ``PYTHONPATH``, entry module) share a fork server (:mod:`roost_core.handlers._warm`) that imported
the entry module once; the attempts of a task whose code comes in a bundle start from a child of that server that
imported the code once (the request carries the attempt's command line, which names it). Everything else, and
everything while an environment's server cannot start (for :data:`START_BACKOFF` seconds after a failure), runs
cold.

Each server has a temporary folder of its own (``roost-<uid>-warm-*`` in the engine's), where what it makes at import
(flytekit's sandboxes) and its batch children's folders (a map's code and inputs) go. Processes the server forks
outlive it (attempts, a long map's batch children), and may still use that folder, so it goes only when the last
of them ended: every one of them inherits a descriptor holding a shared lock on the folder's ``held`` file, and the
folder is removed once an exclusive lock can be had (when its server stops, and by later sweeps).

A server's output (what its entry module prints at import, a crash's traceback) goes to
``<work_dir>/warm-pools/warm-<digest>.log``, named by its environment, so that the servers an engine starts for one
environment across restarts write to one file; one grown past :data:`LOG_LIMIT` moves to ``.1`` (replacing the one
before) when the next server starts.

Settings (:class:`WarmSettings`, ``engine.handlers.local-process.warm``): ``enabled``, ``max_environments``,
``max_memory_mb``, ``idle_timeout``, ``start_timeout``. The environment variable ``ROOST_WARM_PROCESSES=0``
switches warm processes off for the whole handler.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from roost_core.handlers._supervise import TEMP_VARIABLES, resident_mb
from roost_core.settings import Seconds

logger = logging.getLogger(__name__)

SERVER = Path(__file__).with_name("_warm.py")
START_BACKOFF = 60.0
"""Seconds an environment whose server failed to start runs cold before the next try."""
HANDLER_SWITCH = "ROOST_WARM_PROCESSES"
"""Engine environment variable: ``0`` switches warm processes off for the handler."""
TASK_SWITCH = "ROOST_WARM_PROCESS"
"""Task environment variable: ``0`` makes that task's attempts start cold."""
_MESSAGE_SIZE = 1 << 16
_ARGV_SENT = 1 << 15
"""Bytes of JSON up to which an attempt's command line goes with its request (the server's message is at most
:data:`_MESSAGE_SIZE`); a longer one is not looked at for its code."""
_STOP_TIMEOUT = 5.0
_SCRIPT_HEAD = 4096
_IMPORT_LINE = re.compile(r"^from ([A-Za-z_][\w.]*) import ([A-Za-z_]\w*)\s*$", re.MULTILINE)
_EXIT_LINE = re.compile(r"sys\.exit\(([A-Za-z_]\w*)\(\)\)")
_HELD = "held"
"""The file in a server's temporary folder on which the server and everything it forked hold a shared lock."""
_SWEEP_GRACE = 60.0
"""Seconds since a server folder last changed before a sweep looks at it (one just made is not locked yet)."""
LOG_LIMIT = 1 << 20
"""Bytes past which an environment's server log moves aside when its next server starts."""


class WarmSettings(BaseModel):
    """Warm task processes of the ``local-process`` handler (``engine.handlers.local-process.warm``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    enabled: bool = True
    """Start eligible attempts from warm fork servers; false starts every attempt cold."""
    max_environments: int = 4
    """Fork servers kept at most (one per environment); the least recently used one stops for a new one."""
    max_memory_mb: int = 1024
    """A server whose resident memory grew beyond this is restarted before its next attempt."""
    idle_timeout: Seconds = 300.0
    """Seconds a server may stay unused before it stops."""
    start_timeout: Seconds = 120.0
    """Seconds a server may take to import its runtime; one that takes longer is stopped, and its
    environment runs cold for a while."""


@dataclass(frozen=True, slots=True)
class WarmEntry:
    """How an attempt would start warm: the environment's key and the console script's entry point."""

    interpreter: str
    python_path: str
    module: str
    function: str
    script: str

    @property
    def key(self) -> tuple[str, str, str]:
        """The environment a server serves: attempts with equal keys share one."""
        return (self.interpreter, self.python_path, self.module)


def warm_entry(argv: Sequence[str], env: Mapping[str, str]) -> WarmEntry | None:
    """How the command ``argv`` with environment ``env`` would start warm, or None if it must start cold."""
    if not argv or env.get(TASK_SWITCH) == "0":
        return None
    python_path = env.get("PYTHONPATH", "")
    if any(entry and not os.path.isabs(entry) for entry in python_path.split(os.pathsep)):
        return None
    script = shutil.which(argv[0], path=env.get("PATH", os.defpath))
    if script is None:
        return None
    try:
        with open(script, "rb") as stream:
            head = stream.read(_SCRIPT_HEAD).decode()
    except (OSError, UnicodeDecodeError):
        return None
    first, _, body = head.partition("\n")
    interpreter = first.removeprefix("#!").strip()
    if (
        not first.startswith("#!")
        or not os.path.isabs(interpreter)
        or not Path(interpreter).name.startswith("python")
    ):
        return None
    imported = _IMPORT_LINE.search(body)
    called = _EXIT_LINE.search(body)
    if imported is None or called is None or called.group(1) != imported.group(2):
        return None
    return WarmEntry(interpreter, python_path, imported.group(1), imported.group(2), os.path.abspath(script))


class WarmStartError(Exception):
    """A fork server could not start or stopped answering."""


@dataclass(eq=False)
class _Server:
    """One running fork server and the handler's end of its socket."""

    entry: WarmEntry
    process: subprocess.Popen[bytes]
    sock: socket.socket
    folder: Path
    """Its temporary folder."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_used: float = field(default_factory=time.monotonic)

    def memory_mb(self) -> float:
        """Its resident memory (0 when unknown)."""
        return resident_mb(self.process.pid)

    def request(self, message: Mapping[str, object], fds: Sequence[int], timeout: float) -> int:
        """Have the server fork a child for ``message``, passing it ``fds``; its pid."""
        try:
            self.sock.settimeout(timeout)
            socket.send_fds(self.sock, [json.dumps(message).encode()], list(fds))
            reply = self.sock.recv(_MESSAGE_SIZE)
        except OSError as exc:
            raise WarmStartError(f"fork server {self.process.pid} did not answer: {exc}") from None
        if not reply:
            raise WarmStartError(f"fork server {self.process.pid} has exited")
        pid: int = json.loads(reply)["pid"]
        return pid

    def stop(self) -> None:
        """Close its socket (it exits on that) and wait for it; kill it if it does not exit. Its temporary folder
        goes too, unless a process it started still runs (a later sweep removes it then)."""
        self.sock.close()
        try:
            self.process.wait(_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        _remove_unless_held(self.folder)


class WarmPools:
    """The fork servers of one handler: started on demand, bounded, stopped when idle or on :meth:`close`."""

    def __init__(self, settings: WarmSettings, log_dir: Path) -> None:
        self.settings = settings
        self.log_dir = log_dir
        self._servers: dict[tuple[str, str, str], _Server] = {}
        self._failed: dict[tuple[str, str, str], float] = {}
        self._starting: dict[tuple[str, str, str], threading.Lock] = {}
        """Per environment: held while its server starts."""
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._reaper: threading.Thread | None = None

    def start(
        self, entry: WarmEntry, spec: Path, argv: Sequence[str], env: Mapping[str, str], lock_fd: int
    ) -> int | None:
        """Start the attempt of ``spec`` (its command line ``argv``) from a warm server: the supervisor's pid, or None
        to start it cold. The server starts it from the warm child of its code when the entry module names one
        (see :mod:`roost_core.handlers._warm`).

        ``lock_fd`` (the attempt's locked ``lock`` file) passes to the supervisor, which holds it while it lives.
        """
        request: dict[str, object] = {
            "spec": str(spec),
            "start_timeout": self.settings.start_timeout,
            "max_memory_mb": self.settings.max_memory_mb,
        }
        command = list(argv)
        if len(json.dumps(command)) <= _ARGV_SENT:
            request["argv"] = command
        return self._request(entry, env, request, [lock_fd])

    def start_batch(
        self, entry: WarmEntry, env: Mapping[str, str], results_fd: int, specs_fd: int
    ) -> int | None:
        """Start a warm child that prepares and starts, one after another, the attempts sent on ``specs_fd`` (a JSON
        line each with the spec's path and content; it exits at the end of the pipe) and writes a JSON line back to
        ``results_fd`` once done with each: its pid, or None when there is no server (see
        :mod:`roost_core.handlers._warm` for both lines)."""
        request = {"batch": True, "start_timeout": self.settings.start_timeout}
        return self._request(entry, env, request, [results_fd, specs_fd])

    def _request(
        self, entry: WarmEntry, env: Mapping[str, str], request: Mapping[str, object], fds: Sequence[int]
    ) -> int | None:
        server = self._server(entry, env)
        if server is None:
            return None
        message = {**request, "module": entry.module, "function": entry.function, "script": entry.script}
        with server.lock:
            server.last_used = time.monotonic()
            try:
                return server.request(message, fds, self.settings.start_timeout)
            except WarmStartError as exc:
                logger.warning("warm pool %s failed, restarting it later: %s", _describe(entry), exc)
                self._discard(server)
                return None

    def close(self) -> None:
        """Stop every server (attempts already started keep running, as cold ones do)."""
        self._closed.set()
        with self._lock:
            servers = list(self._servers.values())
            self._servers.clear()
        for server in servers:
            server.stop()
            logger.info("warm pool %s stopped", _describe(server.entry))

    def _server(self, entry: WarmEntry, env: Mapping[str, str]) -> _Server | None:
        key = entry.key
        with self._lock:
            found = self._usable(entry)
            if found is not None:
                return found or None
            starting = self._starting.setdefault(key, threading.Lock())
        # One start per environment at a time, outside the pools' lock: an environment whose runtime takes long
        # to import holds up only its own attempts.
        with starting:
            with self._lock:
                found = self._usable(entry)
                if found is not None:  # another thread started it meanwhile, or it failed
                    return found or None
            try:
                server = self._launch(entry, env)
            except WarmStartError as exc:
                with self._lock:
                    self._failed[key] = time.monotonic()
                logger.warning(
                    "warm pool %s could not start; its attempts start cold for %.0f s: %s",
                    _describe(entry),
                    START_BACKOFF,
                    exc,
                )
                return None
            with self._lock:
                closed = self._closed.is_set()
                evicted = []
                if not closed:
                    self._failed.pop(key, None)
                    if (replaced := self._servers.pop(key, None)) is not None:
                        evicted.append(replaced)
                    while len(self._servers) >= self.settings.max_environments:
                        oldest = min(self._servers.values(), key=lambda candidate: candidate.last_used)
                        evicted.append(self._servers.pop(oldest.entry.key))
                    server.last_used = time.monotonic()
                    self._servers[key] = server
                    self._ensure_reaper()
        if closed:  # the handler closed while it started
            server.stop()
            return None
        for old in evicted:
            old.stop()
            logger.info("warm pool %s stopped (replaced or evicted)", _describe(old.entry))
        return server

    def _usable(self, entry: WarmEntry) -> _Server | Literal[False] | None:
        """Under the pools' lock: the environment's running server (marked used), False when there is none to
        be had (closed, or in its back-off after a failed start), or None when one is to be started (an old
        one that grew past ``max_memory_mb`` is stopped first)."""
        if self._closed.is_set():
            return False
        key = entry.key
        failed_at = self._failed.get(key)
        if failed_at is not None and time.monotonic() - failed_at < START_BACKOFF:
            return False
        server = self._servers.get(key)
        if server is None:
            return None
        if server.process.poll() is None:
            if server.memory_mb() <= self.settings.max_memory_mb:
                # Marked used now, so that the reaper does not stop it before the request.
                server.last_used = time.monotonic()
                return server
            logger.info(
                "warm pool %s uses %.0f MB (more than max_memory_mb %d): restarting it",
                _describe(entry),
                server.memory_mb(),
                self.settings.max_memory_mb,
            )
        return None

    def _launch(self, entry: WarmEntry, env: Mapping[str, str]) -> _Server:
        self.log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        _sweep_server_folders()
        try:
            folder = Path(tempfile.mkdtemp(prefix=_folder_prefix()))
        except OSError as exc:
            raise WarmStartError(f"cannot make its temporary folder: {exc}") from None
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        log_path = self.log_dir / log_name(entry)
        try:
            held = os.open(folder / _HELD, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
            fcntl.flock(held, fcntl.LOCK_SH)
            try:
                with contextlib.suppress(FileNotFoundError):
                    if log_path.stat().st_size > LOG_LIMIT:
                        log_path.replace(log_path.with_name(f"{log_path.name}.1"))
                with open(log_path, "ab") as log:
                    process = subprocess.Popen(
                        [entry.interpreter, str(SERVER), str(theirs.fileno()), entry.module, entry.script],
                        env=_server_environment(env, folder),
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=log,
                        cwd=self.log_dir,
                        start_new_session=True,
                        pass_fds=(theirs.fileno(), held),
                    )
            finally:
                os.close(held)  # the server's copy holds the lock from now on
        except OSError as exc:
            ours.close()
            shutil.rmtree(folder, ignore_errors=True)
            raise WarmStartError(f"cannot run {entry.interpreter!r}: {exc}") from None
        finally:
            theirs.close()
        server = _Server(entry, process, ours, folder)
        ours.settimeout(self.settings.start_timeout)
        try:
            reply = ours.recv(_MESSAGE_SIZE)
        except OSError as exc:
            server.stop()
            raise WarmStartError(f"no answer within {self.settings.start_timeout} s: {exc}") from None
        answer = json.loads(reply) if reply else {"error": "it exited"}
        if not answer.get("ready"):
            server.stop()
            raise WarmStartError(f"importing {entry.module!r} failed: {answer.get('error')}")
        logger.info("warm pool %s started (pid %d)", _describe(entry), process.pid)
        return server

    def _discard(self, server: _Server) -> None:
        with self._lock:
            if self._servers.get(server.entry.key) is server:
                del self._servers[server.entry.key]
        server.stop()

    def _ensure_reaper(self) -> None:
        if self._reaper is None:
            self._reaper = threading.Thread(target=self._reap, name="local-process warm pools", daemon=True)
            self._reaper.start()

    def _reap(self) -> None:
        """Stop servers idle longer than ``idle_timeout``."""
        interval = max(0.05, min(self.settings.idle_timeout / 2, 30.0))
        while not self._closed.wait(interval):
            _sweep_server_folders()
            now = time.monotonic()
            with self._lock:
                idle = [
                    server
                    for server in self._servers.values()
                    if now - server.last_used > self.settings.idle_timeout and not server.lock.locked()
                ]
                for server in idle:
                    del self._servers[server.entry.key]
            for server in idle:
                server.stop()
                logger.info(
                    "warm pool %s stopped after %.0f s idle", _describe(server.entry), now - server.last_used
                )

    def running(self) -> list[int]:
        """The pids of the running servers (for logs and tests)."""
        with self._lock:
            return [server.process.pid for server in self._servers.values()]


def log_name(entry: WarmEntry) -> str:
    """The file name of the log of ``entry``'s environment's servers: the same in every engine process."""
    digest = hashlib.sha256("\0".join(entry.key).encode()).hexdigest()[:16]
    return f"warm-{digest}.log"


def _describe(entry: WarmEntry) -> str:
    python_path = f", PYTHONPATH {entry.python_path}" if entry.python_path else ""
    return f"[{entry.module} on {entry.interpreter}{python_path}]"


def _server_environment(env: Mapping[str, str], folder: Path) -> dict[str, str]:
    """A fork server's environment: the first attempt's, but with the server's own temporary folder rather than that
    attempt's (which goes when the attempt ends; each attempt forked sets its own again)."""
    return {**env, **dict.fromkeys(TEMP_VARIABLES, str(folder))}


def _folder_prefix() -> str:
    return f"roost-{os.getuid()}-warm-"


def _sweep_server_folders() -> None:
    """Remove the temporary folders of fork servers (of any engine of this user) that ended along with everything
    they started, leaving alone those that changed in the last :data:`_SWEEP_GRACE` seconds."""
    now = time.time()
    for folder in Path(tempfile.gettempdir()).glob(f"{_folder_prefix()}*"):
        with contextlib.suppress(OSError):  # gone meanwhile, or not ours to read
            if now - folder.stat().st_mtime >= _SWEEP_GRACE:
                _remove_unless_held(folder)


def _remove_unless_held(folder: Path) -> None:
    """Remove a server's temporary folder unless a process holds its lock (one without the lock's file never got
    as far as its server's start)."""
    try:
        held = os.open(folder / _HELD, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        shutil.rmtree(folder, ignore_errors=True)
        return
    try:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return
    finally:
        os.close(held)
    shutil.rmtree(folder, ignore_errors=True)


def handler_switch_on(environ: Mapping[str, str]) -> bool:
    """Whether the engine's environment leaves warm processes on."""
    with contextlib.suppress(KeyError):
        return environ[HANDLER_SWITCH] != "0"
    return True
