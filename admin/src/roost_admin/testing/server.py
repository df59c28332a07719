"""`roost start` in a subprocess, as a user runs it, on ports the system picks: for the end-to-end tests and
for plugin packages whose tests register and run workflows on a real server.

    server = start_roost(tmp_path / "server", {"engine": {"handlers": {...}}})
    try:
        env = server.client_env(tmp_path / "client")
        result = run_roost(env, "run", "--remote", "--wait", "example.py", "wf", cwd=examples)
    finally:
        server.stop()
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

START_TIMEOUT = 90.0
"""Seconds `roost start` may take to print that it is serving."""
RUN_TIMEOUT = 600.0
"""Seconds a client command may take (:func:`run_roost`)."""
_STACKS_TIMEOUT = 2.0
"""Seconds a server that did not stop is given to print its threads' stacks before it is killed."""
SERVER_VARIABLES = frozenset({"ROOST_WARM_PROCESSES"})
"""Variables of the test's environment that are the server's own switches, passed on whatever ``drop_env`` says
(``nox -s e2e_cold`` runs the end-to-end tests with ``ROOST_WARM_PROCESSES=0``)."""


class RoostStartError(AssertionError):
    """`roost start` exited, or did not come up in time; the message holds everything it printed."""


def tool(name: str) -> str:
    """A console script of the environment running the tests (``roost``, ``pyflyte``...)."""
    return str(Path(sys.executable).with_name(name))


@dataclass
class RoostServer:
    """A running `roost start` process and how to reach it."""

    process: subprocess.Popen[str]
    grpc_endpoint: str
    http_url: str
    folder: Path
    """Its config file, its data (``roost/``) and its working directory."""
    output: list[str] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        """Where the server keeps its database and data."""
        return self.folder / "roost"

    def client_env(self, home: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment of `roost` (and `pyflyte`) client commands for this server: ``base`` (the test's
        environment by default) with the client's config file, data and cache under ``home``."""
        return {
            **(os.environ if base is None else base),
            "ROOST_ENDPOINT": self.grpc_endpoint,
            "ROOST_CLIENT_CONFIG": str(home / "client.yaml"),
            "XDG_DATA_HOME": str(home / "data"),
            "ROOST_CACHE_DIR": str(home / "cache"),
        }

    def stacks(self, matching: str = "") -> str:
        """The Python stacks of the server's descendants whose command line or working folder holds ``matching``
        (every one when empty; a warm task process keeps its fork server's command line, but works in its attempt's
        folder), then the server's, from ``py-spy dump``, threads with the same stack shown once: what a test that
        timed out shows of where things wait."""
        spy = tool("py-spy")
        if not Path(spy).exists():
            return "(py-spy is not installed: no stacks)\n"
        pids = [pid for pid in _descendants(self.process.pid) if matching in _described(pid)]
        dumps = []
        for pid in [*pids, self.process.pid]:
            try:
                dump = subprocess.run(
                    [spy, "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=30, check=False
                )
            except subprocess.TimeoutExpired:
                dumps.append(f"--- {pid}: py-spy timed out\n")
                continue
            stacks = _grouped_threads(dump.stdout) if dump.returncode == 0 else dump.stderr[-500:]
            dumps.append(f"--- {pid} {_described(pid)[:300]}\n{stacks}")
        return "".join(dumps)

    def log(self) -> str:
        """Everything the server printed so far."""
        return "".join(self.output)

    def stop(self, timeout: float = 30.0) -> int:
        """Ctrl-C, as a user stops it; returns the exit code. A server still running after ``timeout`` seconds is
        asked for its threads' stacks (SIGUSR1, into :meth:`log`), then killed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.send_signal(signal.SIGUSR1)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(timeout=_STACKS_TIMEOUT)
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def _descendants(pid: int) -> list[int]:
    """Every living descendant of ``pid``."""
    found: list[int] = []
    pending = [pid]
    while pending:
        parent = pending.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            with contextlib.suppress(OSError):
                children = [int(child) for child in (task / "children").read_text().split()]
                found += children
                pending += children
    return found


def _grouped_threads(dump: str) -> str:
    """``py-spy dump``'s threads, those with the same frames shown once under all their names."""
    names: dict[str, list[str]] = {}
    for block in re.split(r"\n(?=Thread )", dump)[1:]:
        header, _, frames = block.partition("\n")
        names.setdefault(frames, []).append(header.removeprefix("Thread ").strip())
    return "".join(f"Thread {', '.join(threads)}\n{frames}\n" for frames, threads in names.items())


def _described(pid: int) -> str:
    """The process's command line and working folder."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        return f"{command} (in {os.readlink(f'/proc/{pid}/cwd')})"
    except OSError:
        return ""


def start_roost(
    folder: Path,
    settings: Mapping[str, Any] | None = None,
    *,
    db_url: str = "",
    storage: str = "",
    env: Mapping[str, str] | None = None,
    drop_env: tuple[str, ...] = ("ROOST_",),
    timeout: float = START_TIMEOUT,
) -> RoostServer:
    """Start `roost start` with ``settings`` as its config file, in ``folder``, with two workers.

    The server's environment is the test's without variables starting with one of ``drop_env`` (so a client
    setting never leaks into the server) except :data:`SERVER_VARIABLES`, plus ``env``.
    """
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "roost.yaml"
    config.write_text(yaml.safe_dump(dict(settings or {})))
    command = [tool("roost"), "start", "--config", str(config), "--data-dir", str(folder / "roost")]
    command += ["--grpc-port", "0", "--http-port", "0", "--workers", "2"]
    if db_url:
        command += ["--db", db_url]
    if storage:
        command += ["--storage", storage]
    environment = {
        key: value
        for key, value in os.environ.items()
        if key in SERVER_VARIABLES or not key.startswith(drop_env)
    }
    environment.update(env or {})
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment, cwd=folder
    )
    output: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if line.startswith("Press Ctrl-C"):
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + timeout
    while not ready.wait(0.1):
        if time.monotonic() > deadline:
            process.kill()
            raise RoostStartError(f"roost start did not come up in {timeout}s:\n{''.join(output)}")
    text = "".join(output)
    grpc = re.search(r"gRPC:\s+(\S+)", text)
    http = re.search(r"HTTP:\s+(\S+)", text)
    if process.poll() is not None or grpc is None or http is None:
        raise RoostStartError(f"roost start failed:\n{text}")
    return RoostServer(process, grpc.group(1), http.group(1), folder, output)


def run_roost(
    env: Mapping[str, str], *args: str, cwd: Path, timeout: float = RUN_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """A `roost` client command, its output captured."""
    return subprocess.run(
        [tool("roost"), *args],
        capture_output=True,
        text=True,
        env=dict(env),
        cwd=cwd,
        timeout=timeout,
        check=False,
    )
