"""End-to-end fixtures: `roost start` in a subprocess (SQLite and a local folder, or PostgreSQL and a real
SeaweedFS S3 server), and the environment a client process needs to reach it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

# Helper modules the test modules import (and load as plugins): their asserts explain failures too.
pytest.register_assert_rewrite("flytekit_env", "flytekit_support")

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"
START_TIMEOUT = 60.0


def tool(name: str) -> str:
    """A console script of the environment running the tests."""
    return str(Path(sys.executable).with_name(name))


@dataclass
class RoostServer:
    """A running `roost start` process and how to reach it."""

    process: subprocess.Popen[str]
    grpc_endpoint: str
    http_url: str
    data_dir: Path
    output: list[str] = field(default_factory=list)

    def client_env(self, home: Path) -> dict[str, str]:
        """Environment for `roost` client commands: this server, and a client config file under ``home``."""
        return {
            **os.environ,
            "ROOST_ENDPOINT": self.grpc_endpoint,
            "ROOST_CLIENT_CONFIG": str(home / "client.yaml"),
            "XDG_DATA_HOME": str(home / "data"),
            "ROOST_CACHE_DIR": str(home / "cache"),
        }

    def log(self) -> str:
        """Everything the server printed so far."""
        return "".join(self.output)

    def stop(self) -> int:
        """Ctrl-C, as a user stops it; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_roost(
    folder: Path, *, db_url: str = "", storage: str = "", settings: dict[str, Any] | None = None
) -> RoostServer:
    """Start `roost start` on ports the system picks, with ``settings`` written to its config file."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "roost.yaml"
    config.write_text(yaml.safe_dump(settings or {}))
    command = [tool("roost"), "start", "--config", str(config), "--data-dir", str(folder / "roost")]
    command += ["--grpc-port", "0", "--http-port", "0", "--workers", "2"]
    if db_url:
        command += ["--db", db_url]
    if storage:
        command += ["--storage", storage]
    env = {key: value for key, value in os.environ.items() if not key.startswith("ROOST_")}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=folder
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
    deadline = time.monotonic() + START_TIMEOUT
    while not ready.wait(0.1):
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"roost start did not come up in {START_TIMEOUT}s:\n{''.join(output)}", pytrace=False)
    text = "".join(output)
    grpc = re.search(r"gRPC:\s+(\S+)", text)
    http = re.search(r"HTTP:\s+(\S+)", text)
    if process.poll() is not None or grpc is None or http is None:
        pytest.fail(f"roost start failed:\n{text}", pytrace=False)
    return RoostServer(process, grpc.group(1), http.group(1), folder / "roost", output)


@pytest.fixture(scope="session")
def seaweed() -> Iterator[Any]:
    """A real SeaweedFS S3 server with a bucket ``roost``."""
    from roost_core.testing.seaweed import SeaweedS3, WeedNotFoundError

    server = SeaweedS3(buckets=["roost"])
    try:
        server.start()
    except WeedNotFoundError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database on the local server, dropped afterwards."""
    import sqlalchemy

    name = f"roost_e2e_{uuid.uuid4().hex[:12]}"
    server = sqlalchemy.create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    except sqlalchemy.exc.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at 127.0.0.1:5432: {exc}", pytrace=False)
    yield f"{POSTGRES}/{name}"
    with server.connect() as connection:
        connection.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    server.dispose()


Starter = Callable[..., RoostServer]


@pytest.fixture
def roost_server(tmp_path: Path) -> Iterator[Starter]:
    """Starts `roost start` processes (see :func:`start_roost`); every one is stopped after the test."""
    started: list[RoostServer] = []

    def start(**options: Any) -> RoostServer:
        server = start_roost(tmp_path / f"server{len(started)}", **options)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(params=["embedded", "s3", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """How `roost start` keeps its data: the embedded defaults (SQLite and a local folder), S3 on a real
    SeaweedFS server, or PostgreSQL."""
    if request.param == "s3":
        server = request.getfixturevalue("seaweed")
        return {
            "storage": f"s3://roost/{tmp_path.name}",
            "settings": {"storage_options": {"s3": server.store_config()}},
        }
    if request.param == "postgres":
        return {"db_url": request.getfixturevalue("postgres_url")}
    return {}


@pytest.fixture(scope="module")
def module_roost_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Starter]:
    """:func:`roost_server` for the tests of one module that share a server: the servers it starts are stopped
    after the module's last test."""
    folder = tmp_path_factory.mktemp("roost-servers")
    started: list[RoostServer] = []

    def start(**options: Any) -> RoostServer:
        server = start_roost(folder / f"server{len(started)}", **options)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
