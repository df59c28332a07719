"""The presto handler's conformance subject (entry point ``roost.conformance``), run by ``roost plugins check
presto`` and by the package's own tests: the handler against the Trino test server with the real trino
client. Needs the ``testing`` extra and roost-core's conformance suite (pytest)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from flyteidl.core import literals_pb2, tasks_pb2
from flyteidl.plugins import presto_pb2

import roost_presto.engine
from roost.extend import SerializationSettings
from roost_core.testing.conformance import HandlerConformance, PluginUnderTest, TaskCase
from roost_presto import TrinoTask
from roost_presto.testing.server import TrinoTestServer

TRIPS = """CREATE TABLE memory.default.trips AS SELECT * FROM (VALUES
    (1, 'ams', 12.50), (2, 'ber', 7.25), (3, 'ams', 3.00)) AS t(id, city, fare)"""
SETTINGS = SerializationSettings(project="proj", domain="dev", version="v1")
"""Where the trips task is registered in tests."""
QUERY = (
    "SELECT id, city, fare FROM trips WHERE city = {{ .inputs.city }} ORDER BY id LIMIT {{ .inputs.limit }}"
)


def trips_task(
    query: str = QUERY, *, name: str = "conformance.trips", **options: Any
) -> tasks_pb2.TaskTemplate:
    """The template of a Trino query over the trips table with inputs ``city`` and ``limit`` (``options`` go to
    :class:`~roost_presto.TrinoTask`)."""
    task = TrinoTask(
        name=name,
        query_template=query,
        inputs={"city": str, "limit": int},
        catalog="memory",
        schema="default",
        **options,
    )
    return task.template(SETTINGS)


def trips_inputs(city: str = "ams", limit: int = 10) -> literals_pb2.LiteralMap:
    """The trips query's inputs."""
    result = literals_pb2.LiteralMap()
    result.literals["city"].scalar.primitive.string_value = city
    result.literals["limit"].scalar.primitive.integer = limit
    return result


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def presto_subject(server: TrinoTestServer) -> PluginUnderTest:
    """The presto handler on ``server`` (which holds the trips table; every query runs about a second)."""

    def running() -> int:
        return sum(1 for query in server.queries if query.state not in ("FINISHED", "FAILED"))

    bad = "SELECT nope FROM trips WHERE city = {{ .inputs.city }} LIMIT {{ .inputs.limit }}"
    return PluginUnderTest(
        plugins=[roost_presto.engine],
        handler="presto",
        section={"coordinator": server.url, "resync_interval": 0.05},
        succeeds=TaskCase(trips_task(), trips_inputs("ams")),
        slow=TaskCase(trips_task(), trips_inputs("ber")),
        fails_user=TaskCase(trips_task(bad), trips_inputs()),
        unreachable={
            "coordinator": f"http://127.0.0.1:{_closed_port()}",
            "resync_interval": 0.05,
            "max_system_failures": 0,
        },
        submissions=lambda: server.submissions,
        running=running,
        custom_message=presto_pb2.PrestoQuery,
        exemptions={
            "local_run": "an installed plugin has no example workflow; the package's tests run examples/"
            "trino_trips.py",
            "roost_start": "an installed plugin has no example workflow; the package's tests run examples/"
            "trino_trips.py on `roost start`",
        },
    )


@pytest.fixture
def trino_coordinator() -> Iterator[TrinoTestServer]:
    """A Trino test server with the trips table; every query runs for a second (the slow case)."""
    with TrinoTestServer(page_rows=2, queued_seconds=0.05, run_seconds=1.0) as server:
        server.execute(TRIPS)
        yield server


class TestPrestoConformance(HandlerConformance):
    """The conformance suite on the presto handler."""

    @pytest.fixture
    def plugin(self, trino_coordinator: TrinoTestServer) -> PluginUnderTest:
        """The presto handler on the Trino test server."""
        return presto_subject(trino_coordinator)
