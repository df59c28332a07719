"""roost-webapi's pytest fixtures for its stand-ins, used by the package's tests and by its conformance subject
(:mod:`roost_webapi.testing.conformance`): bqemulator and fakesnow, each in its own virtualenv (kept in pytest's
cache folder, else built in a temporary one), each seeded with a small orders table, and a recording proxy in
front of each. Needs the ``bigquery`` and ``snowflake`` extras and uv (the stand-ins' virtualenvs)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from roost_core.testing.virtualenv import VirtualenvBuildError, kept_folder, requirements_key
from roost_webapi.testing.proxy import RecordingProxy
from roost_webapi.testing.standins import (
    BIGQUERY_REQUIREMENTS,
    SNOWFLAKE_REQUIREMENTS,
    BigQueryEmulator,
    FakeSnowflake,
    standin_virtualenv,
)

__all__ = [
    "PROJECT",
    "SNOWFLAKE_PASSWORD",
    "bigquery_client",
    "bigquery_emulator",
    "bigquery_proxy",
    "bigquery_section",
    "fakesnow",
    "snowflake_password",
    "snowflake_proxy",
    "snowflake_section",
]

PROJECT = "roost-test"
"""The BigQuery project of the emulator."""
SNOWFLAKE_PASSWORD = "s3cret-for-tests"
"""The only password the Snowflake proxy accepts."""


def _venv(pytestconfig: pytest.Config, factory: pytest.TempPathFactory, name: str, requirements: Any) -> Path:
    folder = kept_folder(pytestconfig, factory.mktemp, f"{name}-{requirements_key(requirements)}")
    try:
        return standin_virtualenv(folder, requirements)
    except VirtualenvBuildError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def bigquery_emulator(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BigQueryEmulator]:
    """bqemulator, with a dataset ``sales`` holding a table ``orders``."""
    venv = _venv(pytestconfig, tmp_path_factory, "bqemulator-venv", BIGQUERY_REQUIREMENTS)
    emulator = BigQueryEmulator(venv, tmp_path_factory.mktemp("bqemulator"), project=PROJECT)
    try:
        client = bigquery_client(emulator.url)
        client.create_dataset("sales", exists_ok=True)
        client.query(
            "CREATE TABLE sales.orders (id INT64, customer STRING, amount FLOAT64, paid BOOL)"
        ).result()
        client.query(
            "INSERT INTO sales.orders VALUES (1, 'ada', 12.5, TRUE), (2, 'bob', 80.0, FALSE), "
            "(3, 'cy', 150.25, TRUE), (4, 'ada', 99.0, TRUE)"
        ).result()
        yield emulator
    finally:
        emulator.stop()


def bigquery_client(url: str) -> Any:
    """A real google-cloud-bigquery client for the emulator."""
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    anonymous = AnonymousCredentials()  # type: ignore[no-untyped-call,unused-ignore]
    return bigquery.Client(
        project=PROJECT, credentials=anonymous, client_options=ClientOptions(api_endpoint=url)
    )


@pytest.fixture
def bigquery_proxy(bigquery_emulator: BigQueryEmulator) -> Iterator[RecordingProxy]:
    """A recording proxy in front of the emulator."""
    proxy = RecordingProxy(bigquery_emulator.url)
    yield proxy
    proxy.close()


def bigquery_section(url: str, **extra: Any) -> dict[str, Any]:
    """engine.handlers.bigquery for the stand-in at ``url``."""
    return {"endpoint": url, "credentials": "anonymous", "resync_interval": 0.2, **extra}


@pytest.fixture(scope="session")
def fakesnow(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FakeSnowflake]:
    """fakesnow in server mode, with a database ``SHOP``, schema ``PUBLIC`` and a table ``ORDERS``."""
    venv = _venv(pytestconfig, tmp_path_factory, "fakesnow-venv", SNOWFLAKE_REQUIREMENTS)
    server = FakeSnowflake(venv)
    try:
        import snowflake.connector

        conn = snowflake.connector.connect(
            user="seed", password="x", account="acme", host=server.host, port=server.port, protocol="http"
        )
        cur = conn.cursor()
        for statement in (
            "CREATE DATABASE IF NOT EXISTS SHOP",
            "CREATE SCHEMA IF NOT EXISTS SHOP.PUBLIC",
            "CREATE OR REPLACE TABLE SHOP.PUBLIC.ORDERS (ID INT, CUSTOMER VARCHAR, AMOUNT FLOAT, DAY DATE)",
            "INSERT INTO SHOP.PUBLIC.ORDERS VALUES (1, 'ada', 12.5, '2024-05-01'), (2, 'bob', 80.0, '2024-05-02'), "
            "(3, 'cy', 150.25, '2024-05-02')",
        ):
            cur.execute(statement)
        conn.close()
        yield server
    finally:
        server.stop()


@pytest.fixture
def snowflake_proxy(fakesnow: FakeSnowflake) -> Iterator[RecordingProxy]:
    """A recording proxy in front of fakesnow that accepts only SNOWFLAKE_PASSWORD."""
    proxy = RecordingProxy(f"http://{fakesnow.host}:{fakesnow.port}")
    proxy.snowflake_password = SNOWFLAKE_PASSWORD
    yield proxy
    proxy.close()


def snowflake_section(port: int, **extra: Any) -> dict[str, Any]:
    """engine.handlers.snowflake for a stand-in on 127.0.0.1:``port`` with password authentication."""
    return {
        "host": "127.0.0.1",
        "port": port,
        "protocol": "http",
        "authenticator": "password",
        "resync_interval": 0.2,
        "login_timeout": 10,
        "network_timeout": 10,
        **extra,
    }


@pytest.fixture
def snowflake_password(monkeypatch: pytest.MonkeyPatch) -> str:
    """The password, as the secret provider's environment variable."""
    monkeypatch.setenv("ROOST_SECRET_SNOWFLAKE_PASSWORD", SNOWFLAKE_PASSWORD)
    return SNOWFLAKE_PASSWORD
