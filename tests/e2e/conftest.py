"""End-to-end fixtures: `roost start` in a subprocess (SQLite and a local folder, or PostgreSQL and a real
SeaweedFS S3 server), and the environment a client process needs to reach it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from roost_admin.testing.server import RoostServer, start_roost

# Helper modules the test modules import (and load as plugins): their asserts explain failures too.
pytest.register_assert_rewrite("flytekit_env", "flytekit_support")

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"
WARM = os.environ.get("ROOST_WARM_PROCESSES") != "0"
"""Whether the servers the tests start run tasks from warm fork servers (`nox -s e2e_cold` switches them off)."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "exhaustive: a variant beyond the end-to-end cases CI runs; the e2e session leaves it out "
        "(`nox -s exhaustive` runs it)",
    )


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
