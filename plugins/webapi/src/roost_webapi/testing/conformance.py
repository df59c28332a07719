"""roost-webapi's conformance subjects (entry point ``roost.conformance``), run by ``roost plugins check webapi``
and by the package's own tests: ``bigquery`` against bqemulator and ``snowflake`` against fakesnow, each through
the recording proxy that counts the submissions (the stand-ins' fixtures: :mod:`roost_webapi.testing.fixtures`).
Needs the ``bigquery`` and ``snowflake`` extras and uv, which builds the stand-ins' virtualenvs on first use.

The stand-ins answer every query at once, so the checks that need a query still running are exempted (the
remote-job machinery they exercise is presto's too, whose test server can hold a query)."""

from __future__ import annotations

import socket

import pytest
from flyteidl.core import literals_pb2

import roost_webapi.engine
from roost.extend import SerializationSettings
from roost.types.structured import StructuredDataset
from roost_core.testing.conformance import HandlerConformance, PluginUnderTest, TaskCase
from roost_webapi import BigQueryConfig, BigQueryTask, SnowflakeConfig, SnowflakeTask
from roost_webapi.testing.fixtures import PROJECT, bigquery_section, snowflake_section
from roost_webapi.testing.proxy import RecordingProxy

__all__ = ["TestBigQueryConformance", "TestSnowflakeConformance"]

SETTINGS = SerializationSettings(project="proj", domain="dev", version="v7")
INSTANT = "the stand-in answers every query at once: no query is ever still running to "
EXEMPT = {
    "handle_does_not_block": INSTANT + "show that handle() returns before it ends",
    "abort_is_idempotent": INSTANT + "abort",
    "restart_reattaches": INSTANT + "re-attach to after a restart",
    "timeout": INSTANT + "time out",
    "local_run": "an installed plugin has no example workflow; the package's tests run examples/ with "
    "`roost run` (tests/test_example.py)",
    "roost_start": "an installed plugin has no example workflow; the package's tests run examples/ on "
    "`roost start` (tests/test_roost_start.py)",
}
JOBS = r"/bigquery/v2/projects/[^/]+/jobs(\?|$)"
IDENTITY = {"FLYTE_INTERNAL_EXECUTION_ID": "exec1", "FLYTE_INTERNAL_EXECUTION_WORKFLOW": "tests.wf"}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _minimum(value: float) -> literals_pb2.LiteralMap:
    literals = literals_pb2.LiteralMap()
    literals.literals["minimum"].scalar.primitive.float_value = value
    return literals


def _bigquery(name: str, query: str) -> BigQueryTask:
    return BigQueryTask(
        name=name,
        query_template=query,
        task_config=BigQueryConfig(ProjectID=PROJECT, Location="US"),
        inputs={"minimum": float},
        output_structured_dataset_type=StructuredDataset,
    )


class TestBigQueryConformance(HandlerConformance):
    """The conformance suite on the ``bigquery`` handler, against bqemulator."""

    @pytest.fixture
    def plugin(self, bigquery_proxy: RecordingProxy) -> PluginUnderTest:
        """The handler through the proxy; unreachable: an endpoint at a closed port."""
        good = _bigquery("orders", "SELECT id FROM sales.orders WHERE amount > @minimum ORDER BY id")
        bad = _bigquery("bad", "SELECT nope FROM sales.orders WHERE amount > @minimum")
        return PluginUnderTest(
            plugins=[roost_webapi.engine],
            handler="bigquery",
            section=bigquery_section(bigquery_proxy.url, resync_interval=0.05),
            succeeds=TaskCase(good.template(SETTINGS), _minimum(50.0)),
            fails_user=TaskCase(bad.template(SETTINGS), _minimum(1.0)),
            unreachable=bigquery_section(
                f"http://127.0.0.1:{_closed_port()}", resync_interval=0.05, max_system_failures=0
            ),
            # a repeated insert of the attempt's job id is refused (409) and the job looked up: not a submission
            submissions=lambda: len(
                {c.body["jobReference"]["jobId"] for c in bigquery_proxy.matching("POST", JOBS)}
            ),
            environment=IDENTITY,
            exemptions=EXEMPT,
        )


def _snowflake(name: str, query: str) -> SnowflakeTask:
    return SnowflakeTask(
        name=name,
        query_template=query,
        task_config=SnowflakeConfig(
            account="acme", database="SHOP", schema="PUBLIC", warehouse="COMPUTE_WH", user="ROOST"
        ),
        inputs={"minimum": float},
        output_schema_type=StructuredDataset,
    )


class TestSnowflakeConformance(HandlerConformance):
    """The conformance suite on the ``snowflake`` handler, against fakesnow."""

    @pytest.fixture
    def plugin(self, snowflake_proxy: RecordingProxy, snowflake_password: str) -> PluginUnderTest:
        """The handler through the proxy, with the password as its secret; unreachable: a closed port."""
        good = _snowflake("orders", "SELECT ID FROM ORDERS WHERE AMOUNT > %(minimum)s ORDER BY ID")
        bad = _snowflake("bad", "SELECT NOPE FROM ORDERS WHERE AMOUNT > %(minimum)s")

        def submissions() -> int:
            return sum(
                1
                for call in snowflake_proxy.matching("POST", r"^/queries/v1/query-request")
                if isinstance(call.body, dict) and call.body.get("asyncExec")
            )

        return PluginUnderTest(
            plugins=[roost_webapi.engine],
            handler="snowflake",
            section=snowflake_section(snowflake_proxy.port, resync_interval=0.05),
            succeeds=TaskCase(good.template(SETTINGS), _minimum(50.0)),
            fails_user=TaskCase(bad.template(SETTINGS), _minimum(1.0)),
            unreachable=snowflake_section(
                _closed_port(),
                resync_interval=0.05,
                max_system_failures=0,
                login_timeout=2,
                network_timeout=2,
            ),
            submissions=submissions,
            environment=IDENTITY,
            exemptions=EXEMPT,
        )
