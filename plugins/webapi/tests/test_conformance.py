"""Both web-API handlers pass the handler conformance suite (roost_core.testing.conformance): ``bigquery``
against bqemulator and ``snowflake`` against fakesnow, each through the recording proxy that counts the
submissions. The stand-ins answer every query at once, so the checks that need a query still running are
exempted (the remote-job machinery they exercise is presto's too, whose stand-in can hold a query); the
example workflows' local and `roost start` runs are test_example.py's and test_roost_start.py's."""

from __future__ import annotations

import socket

import pytest
from conftest import PROJECT, bigquery_section, snowflake_section
from helpers import literal_inputs, template_of

import roost_webapi.engine
from roost.types.structured import StructuredDataset
from roost_core.testing.conformance import HandlerConformance, PluginUnderTest, TaskCase
from roost_webapi import BigQueryConfig, BigQueryTask, SnowflakeConfig, SnowflakeTask
from roost_webapi.testing import RecordingProxy

INSTANT = "the stand-in answers every query at once: no query is ever still running to "
EXEMPT = {
    "handle_does_not_block": INSTANT + "show that handle() returns before it ends",
    "abort_is_idempotent": INSTANT + "abort",
    "restart_reattaches": INSTANT + "re-attach to after a restart",
    "timeout": INSTANT + "time out",
    "local_run": "test_example.py runs the example workflow with `roost run`",
    "roost_start": "test_roost_start.py runs the example workflows on `roost start`",
}
JOBS = r"/bigquery/v2/projects/[^/]+/jobs(\?|$)"
IDENTITY = {"FLYTE_INTERNAL_EXECUTION_ID": "exec1", "FLYTE_INTERNAL_EXECUTION_WORKFLOW": "tests.wf"}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _bigquery(name: str, query: str) -> BigQueryTask:
    return BigQueryTask(
        name=name,
        query_template=query,
        task_config=BigQueryConfig(ProjectID=PROJECT, Location="US"),
        inputs={"minimum": float},
        output_structured_dataset_type=StructuredDataset,
    )


class TestBigQueryConformance(HandlerConformance):
    @pytest.fixture
    def plugin(self, bigquery_proxy: RecordingProxy) -> PluginUnderTest:
        good = _bigquery("orders", "SELECT id FROM sales.orders WHERE amount > @minimum ORDER BY id")
        bad = _bigquery("bad", "SELECT nope FROM sales.orders WHERE amount > @minimum")
        return PluginUnderTest(
            plugins=[roost_webapi.engine],
            handler="bigquery",
            section=bigquery_section(bigquery_proxy.url, resync_interval=0.05),
            succeeds=TaskCase(template_of(good), literal_inputs(good, {"minimum": 50.0})),
            fails_user=TaskCase(template_of(bad), literal_inputs(bad, {"minimum": 1.0})),
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
    @pytest.fixture
    def plugin(self, snowflake_proxy: RecordingProxy, snowflake_password: str) -> PluginUnderTest:
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
            succeeds=TaskCase(template_of(good), literal_inputs(good, {"minimum": 50.0})),
            fails_user=TaskCase(template_of(bad), literal_inputs(bad, {"minimum": 1.0})),
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
