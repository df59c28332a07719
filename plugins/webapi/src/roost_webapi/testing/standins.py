"""The stand-in servers as processes on ports they choose themselves, each in its own virtualenv."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from roost_core.errors import RoostError
from roost_core.testing.virtualenv import cached_virtualenv

__all__ = [
    "BIGQUERY_REQUIREMENTS",
    "SNOWFLAKE_REQUIREMENTS",
    "BigQueryEmulator",
    "FakeSnowflake",
    "StandInError",
    "standin_virtualenv",
]

DUCKDB_FOR_BQEMULATOR = "1.5.5"
BIGQUERY_REQUIREMENTS = (
    "bqemulator==1.4.0",
    # bqemulator loads DuckDB's spatial extension at start and cannot download it here, so the extension comes
    # from a package, whose version must be DuckDB's own.
    f"duckdb=={DUCKDB_FOR_BQEMULATOR}",
    f"duckdb-extension-spatial=={DUCKDB_FOR_BQEMULATOR}",
    "numpy>=1.26",
)
SNOWFLAKE_REQUIREMENTS = (
    "fakesnow[server]==0.12.1",
    # fakesnow imports connector modules that 5.x removed
    "snowflake-connector-python>=3.12,<5",
)
START_TIMEOUT = 120.0


class StandInError(RoostError):
    """A stand-in did not start; the message holds what it printed."""


def standin_virtualenv(folder: Path, requirements: Sequence[str]) -> Path:
    """The stand-in's virtualenv under ``folder``, built with uv on first use."""
    return cached_virtualenv(folder, requirements)


class _Process:
    """A server process whose output is collected, and which prints the port it listens on."""

    def __init__(
        self, command: list[str], env: dict[str, str], find_port: Callable[[str], int | None], name: str
    ) -> None:
        self.name = name
        self.output: list[str] = []
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        found = threading.Event()
        self.port = 0

        def read() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self.output.append(line)
                if not self.port:
                    port = find_port(line)
                    if port:
                        self.port = port
                        found.set()
            found.set()

        threading.Thread(target=read, name=f"{name}-output", daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT
        while not found.wait(0.2):
            if time.monotonic() > deadline:
                self.stop()
                raise StandInError(f"{name} did not start within {START_TIMEOUT:g}s:\n{self.log()}")
        if not self.port:
            self.stop()
            raise StandInError(f"{name} exited before listening:\n{self.log()}")

    def log(self) -> str:
        """Everything the process printed so far."""
        return "".join(self.output)

    def stop(self) -> None:
        """Terminate the process and wait for it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class BigQueryEmulator:
    """``bqemulator start`` on a port it picks, in-memory, with ``project`` as the default project.

    ``url`` is its REST endpoint (``BigQuerySettings.endpoint``, ``ClientOptions(api_endpoint=...)``).
    """

    def __init__(self, venv: Path, work: Path, project: str = "roost-test") -> None:
        self.project = project
        home = work / "home"
        extensions = home / ".duckdb" / "extensions" / f"v{DUCKDB_FOR_BQEMULATOR}" / "linux_amd64"
        extensions.mkdir(parents=True, exist_ok=True)
        # DuckDB's INSTALL finds an extension already in place and downloads nothing.
        packaged = list(
            venv.glob("lib/python*/site-packages/duckdb_extension_spatial/extensions/*/*.duckdb_extension")
        )
        if not packaged:
            raise StandInError(f"the spatial extension is missing from {venv}")
        target = extensions / packaged[0].name
        if not target.exists():
            shutil.copyfile(packaged[0], target)
        env = {**os.environ, "HOME": str(home)}
        command = [
            str(venv / "bin" / "python"), "-m", "bqemulator", "start",
            "--rest-port", "0", "--grpc-port", "0", "--project", project,
            "--log-format", "json", "--log-level", "info",
        ]  # fmt: skip
        self._process = _Process(command, env, _bqemulator_port, "bqemulator")
        self.url = f"http://127.0.0.1:{self._process.port}"

    def log(self) -> str:
        """What the emulator printed."""
        return self._process.log()

    def stop(self) -> None:
        """Stop the emulator."""
        self._process.stop()


_FAKESNOW_MAIN = """
import json, sys
import fakesnow
with fakesnow.server(host="127.0.0.1") as kwargs:
    print("fakesnow listening on port", kwargs["port"], flush=True)
    sys.stdin.read()
"""


class FakeSnowflake:
    """``fakesnow`` in server mode on a port it picks; stops when closed. ``host``/``port`` go to
    ``SnowflakeSettings`` (``protocol: http``)."""

    def __init__(self, venv: Path) -> None:
        command = [str(venv / "bin" / "python"), "-c", _FAKESNOW_MAIN]
        self._process = _Process(command, dict(os.environ), _fakesnow_port, "fakesnow")
        self.host = "127.0.0.1"
        self.port = self._process.port

    def log(self) -> str:
        """What fakesnow printed."""
        return self._process.log()

    def stop(self) -> None:
        """Stop the server (closing its standard input ends it)."""
        process = self._process.process
        if process.stdin is not None and process.poll() is None:
            process.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=20)
        self._process.stop()


def _bqemulator_port(line: str) -> int | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if isinstance(record, dict) and record.get("event") == "rest.listen":
        return int(record["port"])
    return None


def _fakesnow_port(line: str) -> int | None:
    match = re.search(r"fakesnow listening on port (\d+)", line)
    return int(match.group(1)) if match else None
