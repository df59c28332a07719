"""Abort, user and system failures, transport failures and credentials of the presto handler."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from helpers import handler, inputs, trips_task

from roost_core.errors import ErrorKind
from roost_core.handler import TaskPhase
from roost_core.testing.driver import Driver, wait_until
from roost_core.testing.tasks import task_context
from roost_presto.testing import TrinoTestServer, user_error


def drive(tmp_path: Path, server: TrinoTestServer, query: str | None = None, **settings: object) -> Driver:
    template = trips_task(query) if query else trips_task()
    return Driver(handler(server, **settings), task_context(tmp_path, template, inputs=inputs()))


def test_abort_cancels_the_query_on_the_server(tmp_path: Path, trino_server: TrinoTestServer) -> None:
    trino_server.run_seconds = 30
    driver = drive(tmp_path, trino_server)
    try:
        driver.until(
            lambda t: trino_server.submissions == 1 and t.phase is TaskPhase.QUEUED, "the query submitted"
        )
        driver.abort()
        (query,) = trino_server.queries
        assert query.cancelled and query.state == "FAILED"
        assert query.error is not None and query.error.name == "USER_CANCELED"
    finally:
        driver.handler.close()


def test_a_user_error_fails_without_retry_naming_task_message_and_query(
    tmp_path: Path, trino_server: TrinoTestServer
) -> None:
    driver = drive(tmp_path, trino_server, "SELECT * FROM missing WHERE city = {{ .inputs.city }}")
    try:
        done = driver.until_done()
    finally:
        driver.handler.close()
    assert done.phase is TaskPhase.PERMANENT_FAILURE
    assert done.error is not None and done.error.kind is ErrorKind.USER
    assert done.error.code == "TABLE_NOT_FOUND"
    message = done.error.message
    assert "task 'tests.trips'" in message
    assert "Table 'memory.default.missing' does not exist" in message
    assert "query: SELECT * FROM missing WHERE city = {{ .inputs.city }}" in message
    assert trino_server.submissions == 1


def test_a_syntax_error_is_a_user_error(tmp_path: Path, trino_server: TrinoTestServer) -> None:
    driver = drive(tmp_path, trino_server, "SELEC id FROM trips WHERE city = {{ .inputs.city }}")
    try:
        done = driver.until_done()
    finally:
        driver.handler.close()
    assert done.error is not None and done.error.kind is ErrorKind.USER and done.error.code == "SYNTAX_ERROR"
    assert "SELEC id FROM trips" in done.error.message


def test_an_internal_error_is_a_retryable_system_error(tmp_path: Path, trino_server: TrinoTestServer) -> None:
    trino_server.fail_next_queries(1)
    driver = drive(tmp_path, trino_server)
    try:
        done = driver.until_done()
    finally:
        driver.handler.close()
    assert done.phase is TaskPhase.RETRYABLE_FAILURE
    assert done.error is not None and done.error.kind is ErrorKind.SYSTEM
    assert done.error.code == "GENERIC_INTERNAL_ERROR"
    assert "worker node lost" in done.error.message and "query: SELECT id, city, fare" in done.error.message


def test_an_access_denied_injected_as_user_error_is_not_retried(
    tmp_path: Path, trino_server: TrinoTestServer
) -> None:
    trino_server.fail_next_queries(
        1, user_error("PERMISSION_DENIED", 4, "Access Denied: Cannot select from trips")
    )
    driver = drive(tmp_path, trino_server)
    try:
        done = driver.until_done()
    finally:
        driver.handler.close()
    assert done.phase is TaskPhase.PERMANENT_FAILURE and done.error is not None
    assert done.error.kind is ErrorKind.USER and "Access Denied" in done.error.message


def test_transient_http_errors_are_retried(tmp_path: Path, trino_server: TrinoTestServer) -> None:
    trino_server.refuse_requests(2, 503)  # the submission, then its retry
    driver = drive(tmp_path, trino_server)
    try:
        done = driver.until_done()
    finally:
        driver.handler.close()
    assert done.phase is TaskPhase.SUCCESS
    assert trino_server.submissions == 1


def test_an_unreachable_coordinator_is_retried_then_fails(tmp_path: Path) -> None:
    server = TrinoTestServer()
    url = server.url
    server.stop()  # nothing listens there any more
    presto = handler_for(url, max_system_failures=1)
    driver = Driver(presto, task_context(tmp_path, trips_task(), inputs=inputs()))
    try:
        done = driver.until_done()
    finally:
        presto.close()
    assert done.phase is TaskPhase.PERMANENT_FAILURE
    assert done.error is not None and done.error.kind is ErrorKind.SYSTEM
    assert "task 'tests.trips'" in done.error.message
    assert "create() failed 2 times in a row" in done.error.message
    assert "Connection" in done.error.message


def engine_threads() -> set[threading.Thread]:
    """This process's threads, less the test server's (its HTTP connections and query runners)."""
    return {
        t
        for t in threading.enumerate()
        if not t.name.startswith("trino-test") and "process_request_thread" not in t.name
    }


def handler_for(url: str, **settings: object) -> object:
    import roost_presto.engine
    from roost_core.testing.harness import build_handler

    return build_handler([roost_presto.engine], "presto", section={"coordinator": url, **settings})


def test_a_coordinator_lost_mid_query_is_a_system_failure(tmp_path: Path) -> None:
    with TrinoTestServer(run_seconds=30) as server:
        server.execute("CREATE TABLE trips AS SELECT 1 AS id, 'ams' AS city, 1.0 AS fare")
        presto = handler_for(server.url, resync_interval=0.05, max_system_failures=1)
        driver = Driver(presto, task_context(tmp_path, trips_task(), inputs=inputs()))
        driver.until(lambda t: server.submissions == 1, "the query submitted")
    try:
        done = driver.until_done()
    finally:
        presto.close()  # type: ignore[attr-defined]
    assert done.error is not None and done.error.kind is ErrorKind.SYSTEM
    assert "get() failed 2 times in a row" in done.error.message


def test_no_coordinator_configured_names_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROOST_TRINO_COORDINATOR", raising=False)
    presto = handler_for("")
    driver = Driver(presto, task_context(tmp_path, trips_task(), inputs=inputs()))
    try:
        done = driver.until_done()
    finally:
        presto.close()  # type: ignore[attr-defined]
    assert done.error is not None and done.error.code == "TrinoNotConfigured"
    assert (
        "engine.handlers.presto.coordinator" in done.error.message
        and "ROOST_TRINO_COORDINATOR" in done.error.message
    )


def test_credentials_come_from_a_secret_and_stay_out_of_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRINO_TEST_PASSWORD", "s3cret-value")
    with TrinoTestServer(users={"alice": "s3cret-value"}) as server:
        server.execute("CREATE TABLE trips AS SELECT 1 AS id, 'ams' AS city, 1.0 AS fare")
        settings = {"user": "alice", "password": {"env": "TRINO_TEST_PASSWORD"}, "allow_insecure_auth": True}
        presto = handler_for(server.url, resync_interval=0.05, **settings)
        driver = Driver(presto, task_context(tmp_path, trips_task(), inputs=inputs()))
        try:
            done = driver.until_done()
        finally:
            presto.close()  # type: ignore[attr-defined]
        assert done.phase is TaskPhase.SUCCESS
        assert server.queries[0].user == "alice"
        assert "s3cret-value" not in json.dumps(driver.ctx.state)
        stored = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
        assert b"s3cret-value" not in stored


def test_a_wrong_password_fails_naming_the_refusal_not_the_secret(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("wrong-one\n")
    with TrinoTestServer(users={"alice": "right"}) as server:
        settings = {"user": "alice", "password": {"file": str(secret)}, "allow_insecure_auth": True}
        presto = handler_for(server.url, max_system_failures=0, **settings)
        driver = Driver(presto, task_context(tmp_path, trips_task(), inputs=inputs()))
        try:
            done = driver.until_done()
        finally:
            presto.close()  # type: ignore[attr-defined]
    assert done.error is not None and done.error.kind is ErrorKind.SYSTEM
    assert "refused the credentials" in done.error.message and "401" in done.error.message
    assert "wrong-one" not in done.error.message


def test_credentials_over_plain_http_are_refused_unless_allowed(
    tmp_path: Path, trino_server: TrinoTestServer
) -> None:
    driver = drive(tmp_path, trino_server, password={"value": "pw"})
    try:
        done = driver.until_done()
    finally:
        driver.handler.close()
    assert done.error is not None and done.error.code == "TrinoNotConfigured"
    assert "plain HTTP" in done.error.message and "pw" not in done.error.message.split("plain HTTP")[1]


def test_the_status_workers_are_shared_by_all_queries(tmp_path: Path, trino_server: TrinoTestServer) -> None:
    trino_server.run_seconds = 0.5
    presto = handler(trino_server, workers=2)
    before = engine_threads()
    drivers = [
        Driver(presto, task_context(tmp_path / str(i), trips_task(), inputs=inputs(), execution=f"e{i}"))
        for i in range(20)
    ]
    try:
        for driver in drivers:
            driver.round()
        wait_until(lambda: trino_server.submissions == 20, "20 queries submitted")
        assert len(engine_threads() - before) <= 2  # the status workers, whatever the number of queries
        for driver in drivers:
            assert driver.until_done().phase is TaskPhase.SUCCESS
    finally:
        presto.close()


def test_a_value_the_client_cannot_read_is_a_conversion_error_naming_the_column() -> None:
    from roost_presto.results import ConversionError, page_parquet

    columns = [{"name": "n", "type": "bigint", "typeSignature": {"rawType": "bigint", "arguments": []}}]
    with pytest.raises(ConversionError, match="column 'n' of Trino type bigint holds a value"):
        page_parquet(columns, [["not a number"]])


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"id": str}, "column 'id' is declared str but Trino returns integer"),
        (
            {"distance": float},
            "the declared column 'distance' is not in the result (its columns: id, city, fare)",
        ),
    ],
)
def test_a_result_that_does_not_fit_the_declared_type_is_a_user_error(
    tmp_path: Path, trino_server: TrinoTestServer, columns: dict[str, type], message: str
) -> None:
    from typing import Annotated

    import pandas as pd

    template = trips_task(output_structured_dataset_type=Annotated[pd.DataFrame, columns])
    presto = handler(trino_server)
    driver = Driver(presto, task_context(tmp_path, template, inputs=inputs()))
    try:
        done = driver.until_done()
    finally:
        presto.close()
    assert done.phase is TaskPhase.PERMANENT_FAILURE and done.error is not None
    assert done.error.kind is ErrorKind.USER and done.error.code == "TrinoResultType"
    assert message in done.error.message and "task 'tests.trips'" in done.error.message


def test_a_quota_caps_the_queries_in_flight(tmp_path: Path, trino_server: TrinoTestServer) -> None:
    trino_server.run_seconds = 30
    presto = handler(trino_server, quotas={"trino": 1})
    first = Driver(presto, task_context(tmp_path / "a", trips_task(), inputs=inputs(), execution="a"))
    second = Driver(presto, task_context(tmp_path / "b", trips_task(), inputs=inputs(), execution="b"))
    try:
        first.round()
        waiting = second.round()
        assert waiting.phase is TaskPhase.WAITING_FOR_RESOURCES
        assert "quota 'trino': 1 of 1 units in use" in waiting.reason
        assert trino_server.submissions == 1
        first.abort()
        assert second.round().phase is TaskPhase.QUEUED
        assert trino_server.submissions == 2
        second.abort()
    finally:
        presto.close()


def test_a_task_timeout_cancels_the_query(tmp_path: Path, trino_server: TrinoTestServer) -> None:
    from helpers import engine

    from roost_core.engine.state import WorkflowPhase

    trino_server.run_seconds = 60
    run = engine(trips_task(timeout=1), tmp_path, trino_server)
    try:
        run.start(inputs())
        assert run.run_to_end(timeout=30).state.phase is WorkflowPhase.FAILED
    finally:
        run.close()
    wait_until(lambda: trino_server.queries[0].cancelled, "the query cancelled")
