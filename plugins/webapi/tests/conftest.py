"""Fixtures: handlers built as an engine builds them, talking to the stand-ins through their recording proxies
(the stand-ins' fixtures are the package's pytest plugin, roost_webapi.testing.fixtures), and the Trino test
server of the SQL pipeline example."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import roost_webapi.engine
from roost_core.handler import TaskHandler
from roost_core.testing.harness import build_handler
from roost_webapi.testing import RecordingProxy

# The stand-ins' fixtures (bigquery_proxy, snowflake_proxy, ...) are the package's pytest plugin
# (roost_webapi.testing.fixtures, entry point pytest11): its conformance subject uses them too.
from roost_webapi.testing.fixtures import PROJECT, bigquery_section, snowflake_section

__all__ = ["PROJECT", "bigquery_section", "snowflake_section"]


@pytest.fixture
def bigquery_handler(bigquery_proxy: RecordingProxy) -> Iterator[TaskHandler]:
    """The BigQuery handler, as an engine builds it, talking to the emulator through the proxy."""
    handler = build_handler([roost_webapi.engine], "bigquery", section=bigquery_section(bigquery_proxy.url))
    yield handler
    handler.close()


@pytest.fixture
def snowflake_handler(snowflake_proxy: RecordingProxy, snowflake_password: str) -> Iterator[TaskHandler]:
    """The Snowflake handler, as an engine builds it, talking to fakesnow through the proxy."""
    handler = build_handler(
        [roost_webapi.engine], "snowflake", section=snowflake_section(snowflake_proxy.port)
    )
    yield handler
    handler.close()


@pytest.fixture(scope="session")
def trino_coordinator() -> Iterator[str]:
    """roost-presto's Trino test server holding examples/trino_trips.sql: the first step of
    examples/sql_pipeline.py."""
    testing = pytest.importorskip(
        "roost_presto.testing", reason="examples/sql_pipeline.py needs roost-presto[testing]"
    )
    setup = Path(__file__).resolve().parents[3] / "examples" / "trino_trips.sql"
    with testing.TrinoTestServer() as server:
        for statement in (s for s in setup.read_text().split(";") if s.strip()):
            server.execute(statement)
        yield server.url
