"""Admin test fixtures: a database per test (SQLite, or a fresh PostgreSQL database), a running admin with
real gRPC and HTTP on ports the system picks, and flyteidl stubs connected to it."""

from __future__ import annotations

import atexit
import concurrent.futures
import functools
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest
import sqlalchemy
from flyteidl.service import admin_pb2_grpc, dataproxy_pb2_grpc, signal_pb2_grpc

from roost_admin.app import AdminApp, grpc_options
from roost_admin.config import Settings
from roost_admin.db.base import Database
from roost_admin.db.migrate import upgrade

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"


@functools.cache
def _migrated_template(kind: str) -> str:
    """A database at the schema's head, made once per test process, that fresh databases are copied from: a
    SQLite file, or the name of a PostgreSQL template database. Copying skips the migrations a test would
    otherwise run (most of an admin's start-up, about a second on PostgreSQL)."""
    if kind == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="roost-template-"))
        atexit.register(shutil.rmtree, folder, True)
        url = f"sqlite:///{folder / 'roost.db'}"
        name = str(folder / "roost.db")
    else:
        name = f"roost_template_{uuid.uuid4().hex[:12]}"
        with _postgres_server() as server, server.connect() as connection:
            connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
        atexit.register(_drop_postgres, name)
        url = f"{POSTGRES}/{name}"
    db = Database(url)
    try:
        upgrade(db)
    finally:
        db.dispose()
    return name


@contextmanager
def _postgres_server() -> Iterator[sqlalchemy.Engine]:
    server = sqlalchemy.create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
    try:
        yield server
    except sqlalchemy.exc.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at 127.0.0.1:5432: {exc}", pytrace=False)
    finally:
        server.dispose()


def _drop_postgres(name: str) -> None:
    with _postgres_server() as server, server.connect() as connection:
        connection.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


_dropping = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="drop-database")
"""Drops used PostgreSQL databases in the background: a drop takes a few hundred milliseconds a test need not wait."""
atexit.register(_dropping.shutdown)


@contextmanager
def fresh_database(kind: str, folder: Path) -> Iterator[str]:
    """The URL of a fresh database at the schema's head, holding no rows: a SQLite file in ``folder``, or a new
    PostgreSQL database, dropped afterwards."""
    template = _migrated_template(kind)
    if kind == "sqlite":
        shutil.copyfile(template, folder / "roost.db")
        yield f"sqlite:///{folder / 'roost.db'}"
        return
    name = f"roost_test_{uuid.uuid4().hex[:12]}"
    with _postgres_server() as server, server.connect() as connection:
        connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        _dropping.submit(_drop_postgres, name)


DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
"""The kinds of database every admin test runs against."""


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a new PostgreSQL database dropped afterwards."""
    with fresh_database(request.param, tmp_path) as url:
        yield url


def make_settings(tmp_path, database_url: str, **overrides) -> Settings:
    """Settings for a test admin: its own folder and database, free ports, no workers unless asked."""
    values = {
        "data_dir": tmp_path / "roost",
        "db_url": database_url,
        "grpc_port": 0,
        "http_port": 0,
        "workers": 0,
    }
    values.update(overrides)
    return Settings(**values)


@contextmanager
def started(settings: Settings) -> Iterator[AdminApp]:
    """An admin started with ``settings``, stopped afterwards."""
    admin = AdminApp(settings)
    admin.start()
    try:
        yield admin
    finally:
        admin.stop()


@pytest.fixture
def app(tmp_path, database_url: str) -> Iterator[AdminApp]:
    """A running admin (no engine workers)."""
    with started(make_settings(tmp_path, database_url)) as admin:
        yield admin


@pytest.fixture
def channel(app: AdminApp) -> Iterator[grpc.Channel]:
    """A real gRPC channel to the running admin."""
    with grpc.insecure_channel(f"127.0.0.1:{app.grpc_port}", options=grpc_options(app.settings)) as opened:
        yield opened


@pytest.fixture
def admin(channel: grpc.Channel) -> admin_pb2_grpc.AdminServiceStub:
    """The AdminService stub."""
    return admin_pb2_grpc.AdminServiceStub(channel)


@pytest.fixture
def dataproxy(channel: grpc.Channel) -> dataproxy_pb2_grpc.DataProxyServiceStub:
    """The DataProxyService stub."""
    return dataproxy_pb2_grpc.DataProxyServiceStub(channel)


@pytest.fixture
def signals(channel: grpc.Channel) -> signal_pb2_grpc.SignalServiceStub:
    """The SignalService stub."""
    return signal_pb2_grpc.SignalServiceStub(channel)


@pytest.fixture
def auth_app(tmp_path, database_url: str) -> Iterator[AdminApp]:
    """A running admin with auth on and the built-in authorization server (no engine workers)."""
    with started(make_settings(tmp_path, database_url, auth={"enabled": True})) as admin:
        yield admin


@pytest.fixture
def auth_channel(auth_app: AdminApp) -> Iterator[grpc.Channel]:
    """A gRPC channel to it (sending no token of its own)."""
    with grpc.insecure_channel(f"127.0.0.1:{auth_app.grpc_port}") as opened:
        yield opened
