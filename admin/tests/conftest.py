"""Admin test fixtures: a database per test (SQLite, or a fresh PostgreSQL database), a running admin with
real gRPC and HTTP on ports the system picks, and flyteidl stubs connected to it."""

from __future__ import annotations

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

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"


@contextmanager
def fresh_database(kind: str, folder: Path) -> Iterator[str]:
    """The URL of a fresh, empty database: a SQLite file in ``folder``, or a new PostgreSQL database dropped
    afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'roost.db'}"
        return
    name = f"roost_test_{uuid.uuid4().hex[:12]}"
    server = sqlalchemy.create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    except sqlalchemy.exc.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at 127.0.0.1:5432: {exc}", pytrace=False)
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        with server.connect() as connection:
            connection.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


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
