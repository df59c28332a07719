"""The BigQuery handler against bqemulator, through the real google-cloud-bigquery client."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from conftest import PROJECT, bigquery_section
from helpers import context, literal_inputs, read_results, template_of

import roost_webapi.engine
from roost.types.structured import StructuredDataset
from roost_core.engine import EngineConfig
from roost_core.handler import TaskHandler, TaskPhase
from roost_core.testing.driver import Driver, wait_until
from roost_core.testing.harness import OneTaskEngine, build_handler
from roost_core.testing.tasks import file_storage
from roost_webapi import BigQueryConfig, BigQueryTask
from roost_webapi.testing import RecordingProxy

INSERT = r"/bigquery/v2/projects/[^/]+/jobs(\?|$)"


def orders_task(**kwargs: object) -> BigQueryTask:
    return BigQueryTask(
        name="big_orders",
        query_template="""SELECT id, customer, amount
            FROM sales.orders WHERE amount > @minimum AND paid = @paid ORDER BY id""",
        task_config=BigQueryConfig(ProjectID=PROJECT, Location="US"),
        inputs={"minimum": float, "paid": bool},
        output_structured_dataset_type=StructuredDataset,
        **kwargs,  # type: ignore[arg-type]
    )


def test_a_query_with_typed_inputs_returns_its_rows_as_parquet(
    tmp_path: Path, bigquery_handler: TaskHandler, bigquery_proxy: RecordingProxy
) -> None:
    ctx = context(tmp_path, orders_task(), {"minimum": 50.0, "paid": True})
    done = Driver(bigquery_handler, ctx).until_done()
    assert done.phase is TaskPhase.SUCCESS, done.error
    table, dataset = read_results(ctx)
    assert table.to_pydict() == {"id": [3, 4], "customer": ["cy", "ada"], "amount": [150.25, 99.0]}
    assert dataset.metadata.structured_dataset_type.format == "parquet"
    # the inputs went as query parameters, not into the text
    (insert,) = bigquery_proxy.matching("POST", INSERT)
    query = insert.body["configuration"]["query"]
    assert "@minimum" in query["query"] and "50" not in query["query"]
    parameters = {p["name"]: p for p in query["queryParameters"]}
    assert parameters["minimum"]["parameterType"]["type"] == "FLOAT64"
    assert parameters["paid"]["parameterValue"]["value"] == "true"
    assert insert.body["jobReference"]["jobId"].startswith("roost-")


def test_a_query_without_output_succeeds_with_no_outputs(
    tmp_path: Path, bigquery_handler: TaskHandler
) -> None:
    task = BigQueryTask(
        name="touch", query_template="SELECT COUNT(*) FROM sales.orders", task_config=BigQueryConfig(PROJECT)
    )
    ctx = context(tmp_path, task)
    assert Driver(bigquery_handler, ctx).until_done().phase is TaskPhase.SUCCESS


def test_list_and_datetime_inputs_are_array_and_datetime_parameters(
    tmp_path: Path, bigquery_handler: TaskHandler, bigquery_proxy: RecordingProxy
) -> None:
    task = BigQueryTask(
        name="some_orders",
        query_template="SELECT id FROM sales.orders WHERE id IN UNNEST(@ids) AND @at IS NOT NULL ORDER BY id",
        task_config=BigQueryConfig(PROJECT),
        inputs={"ids": list[int], "at": datetime.datetime},
        output_structured_dataset_type=StructuredDataset,
    )
    at = datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.UTC)
    ctx = context(tmp_path, task, {"ids": [1, 3], "at": at})
    done = Driver(bigquery_handler, ctx).until_done()
    assert done.phase is TaskPhase.SUCCESS, done.error
    assert read_results(ctx)[0].to_pydict() == {"id": [1, 3]}
    (insert,) = bigquery_proxy.matching("POST", INSERT)
    parameters = {p["name"]: p for p in insert.body["configuration"]["query"]["queryParameters"]}
    assert parameters["ids"]["parameterType"] == {"type": "ARRAY", "arrayType": {"type": "INT64"}}
    assert parameters["at"]["parameterType"]["type"] == "DATETIME"


@pytest.mark.parametrize(
    ("query", "service_message"),
    [
        ("SELEC id FROM sales.orders", "Syntax error"),
        ("SELECT id FROM sales.no_such_table", "no_such_table was not found"),
    ],
)
def test_a_rejected_query_is_a_user_error_naming_task_message_and_query(
    tmp_path: Path, bigquery_handler: TaskHandler, query: str, service_message: str
) -> None:
    task = BigQueryTask(name="broken", query_template=query, task_config=BigQueryConfig(PROJECT))
    done = Driver(bigquery_handler, context(tmp_path, task)).until_done()
    assert done.phase is TaskPhase.PERMANENT_FAILURE
    assert done.error is not None and done.error.kind.name == "USER"
    message = done.error.message
    assert "task 'broken'" in message and service_message in message and f"query: {query}" in message


def test_a_result_that_does_not_fit_the_declared_columns_is_a_user_error(
    tmp_path: Path, bigquery_handler: TaskHandler
) -> None:
    from typing import Annotated

    task = BigQueryTask(
        name="typed",
        query_template="SELECT customer AS amount FROM sales.orders",
        task_config=BigQueryConfig(PROJECT),
        output_structured_dataset_type=Annotated[StructuredDataset, {"amount": float}],
    )
    done = Driver(bigquery_handler, context(tmp_path, task)).until_done()
    assert done.phase is TaskPhase.PERMANENT_FAILURE
    assert done.error is not None and done.error.kind.name == "USER"
    assert "task 'typed'" in done.error.message and "column 'amount'" in done.error.message


def test_abort_cancels_the_job_on_the_server(
    tmp_path: Path, bigquery_handler: TaskHandler, bigquery_proxy: RecordingProxy
) -> None:
    bigquery_proxy.hold = True
    driver = Driver(bigquery_handler, context(tmp_path, orders_task(), {"minimum": 1.0, "paid": True}))
    driver.until(lambda t: t.phase is TaskPhase.RUNNING, "the job running")
    (insert,) = bigquery_proxy.matching("POST", INSERT)
    job_id = insert.body["jobReference"]["jobId"]
    driver.abort()
    assert bigquery_proxy.cancelled == [job_id]


def test_a_restarted_engine_reattaches_and_never_submits_twice(
    tmp_path: Path, bigquery_proxy: RecordingProxy
) -> None:
    bigquery_proxy.hold = True
    task = orders_task()
    engine = OneTaskEngine(
        template_of(task),
        file_storage(tmp_path),
        data_prefix=f"file://{tmp_path}/data",
        plugins=[roost_webapi.engine],
        config=EngineConfig(poll_interval=0.05, handlers={"bigquery": bigquery_section(bigquery_proxy.url)}),
    )
    try:
        engine.start(literal_inputs(task, {"minimum": 50.0, "paid": True}))
        wait_until(lambda: engine.round() and bigquery_proxy.count("POST", INSERT) == 1, "the job inserted")
        engine.round()
        engine.restart()
        bigquery_proxy.hold = False
        run = engine.run_to_end()
        assert run.state.phase.name == "SUCCEEDED", run.state.error
        assert bigquery_proxy.count("POST", INSERT) == 1
        assert "results" in engine.outputs().literals
    finally:
        engine.close()


def test_a_service_that_is_down_is_retried_then_a_system_error(
    tmp_path: Path, bigquery_proxy: RecordingProxy
) -> None:
    bigquery_proxy.down = True
    handler = build_handler(
        [roost_webapi.engine],
        "bigquery",
        section=bigquery_section(bigquery_proxy.url, max_system_failures=2, request_timeout=5),
    )
    try:
        done = Driver(handler, context(tmp_path, orders_task(), {"minimum": 1.0, "paid": True})).until_done()
    finally:
        handler.close()
    assert done.phase is TaskPhase.PERMANENT_FAILURE
    assert done.error is not None and done.error.kind.name == "SYSTEM"
    assert "task 'big_orders'" in done.error.message and "3 times" in done.error.message
    assert "503" in done.error.message
    assert bigquery_proxy.count("POST", INSERT) == 3


def test_a_missing_service_account_secret_names_the_secret(
    tmp_path: Path, bigquery_proxy: RecordingProxy
) -> None:
    handler = build_handler(
        [roost_webapi.engine],
        "bigquery",
        section=bigquery_section(
            bigquery_proxy.url,
            credentials="service_account",
            service_account_secret="bq_key",
            max_system_failures=0,
        ),
    )
    try:
        done = Driver(handler, context(tmp_path, orders_task(), {"minimum": 1.0, "paid": True})).until_done()
    finally:
        handler.close()
    assert done.error is not None and done.error.kind.name == "SYSTEM"
    assert "secret 'bq_key' not found" in done.error.message
    assert "ROOST_SECRET_BQ_KEY" in done.error.message


def test_an_input_that_cannot_be_a_parameter_is_a_user_error_naming_it(
    tmp_path: Path, bigquery_handler: TaskHandler, bigquery_proxy: RecordingProxy
) -> None:
    task = BigQueryTask(
        name="odd_input",
        query_template="SELECT @settings",
        task_config=BigQueryConfig(PROJECT),
        inputs={"settings": dict},
    )
    done = Driver(bigquery_handler, context(tmp_path, task, {"settings": {"a": 1}})).until_done()
    assert done.phase is TaskPhase.PERMANENT_FAILURE
    assert done.error is not None and done.error.kind.name == "USER"
    assert "task 'odd_input'" in done.error.message and "input 'settings'" in done.error.message
    assert "query: SELECT @settings" in done.error.message
    assert bigquery_proxy.count("POST", INSERT) == 0


def test_many_concurrent_jobs_need_no_thread_each(tmp_path: Path, bigquery_proxy: RecordingProxy) -> None:
    import threading

    handler = build_handler(
        [roost_webapi.engine],
        "bigquery",
        section=bigquery_section(bigquery_proxy.url, workers=4, quotas={"bq": 60}),
    )
    bigquery_proxy.hold = True
    try:
        drivers = [
            Driver(
                handler,
                context(tmp_path / str(i), orders_task(), {"minimum": 1.0, "paid": True}, execution=f"e{i}"),
            )
            for i in range(60)
        ]
        before = threading.active_count()
        for driver in drivers:
            driver.until(lambda t: t.phase is TaskPhase.RUNNING, "the job running")
        running = threading.active_count()
        bigquery_proxy.hold = False
        for driver in drivers:
            assert driver.until_done().phase is TaskPhase.SUCCESS
    finally:
        handler.close()
    assert bigquery_proxy.count("POST", INSERT) == 60
    # the status cache's 4 workers (and the proxy's request threads, which end with their requests)
    assert running - before <= 4 + 8, (before, running)
