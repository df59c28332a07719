"""The Snowflake handler against fakesnow in server mode, through the real snowflake-connector-python."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from conftest import snowflake_section
from helpers import context, literal_inputs, read_results, template_of

import roost_webapi.engine
from roost.types.structured import StructuredDataset
from roost_core.engine import EngineConfig
from roost_core.handler import TaskHandler, TaskPhase
from roost_core.testing.driver import Driver, wait_until
from roost_core.testing.harness import OneTaskEngine, build_handler
from roost_core.testing.tasks import file_storage
from roost_webapi import SnowflakeConfig, SnowflakeTask
from roost_webapi.testing import RecordingProxy

QUERY = r"^/queries/v1/query-request"
CONFIG = SnowflakeConfig(
    account="acme", database="SHOP", schema="PUBLIC", warehouse="COMPUTE_WH", user="ROOST"
)


def orders_task() -> SnowflakeTask:
    return SnowflakeTask(
        name="big_orders",
        query_template="SELECT ID, CUSTOMER, AMOUNT FROM ORDERS\n  WHERE AMOUNT > %(minimum)s ORDER BY ID",
        task_config=CONFIG,
        inputs={"minimum": float},
        output_schema_type=StructuredDataset,
    )


def submissions(proxy: RecordingProxy) -> list[str]:
    return [
        c.body["sqlText"]
        for c in proxy.matching("POST", QUERY)
        if isinstance(c.body, dict) and "ORDERS" in c.body.get("sqlText", "") and c.body.get("asyncExec")
    ]


def test_a_query_with_typed_inputs_returns_its_rows_as_parquet(
    tmp_path: Path, snowflake_handler: TaskHandler, snowflake_proxy: RecordingProxy
) -> None:
    ctx = context(tmp_path, orders_task(), {"minimum": 50.0})
    done = Driver(snowflake_handler, ctx).until_done()
    assert done.phase is TaskPhase.SUCCESS, done.error
    table, dataset = read_results(ctx)
    assert table.to_pydict() == {"ID": [2, 3], "CUSTOMER": ["bob", "cy"], "AMOUNT": [80.0, 150.25]}
    assert dataset.metadata.structured_dataset_type.format == "parquet"
    assert len(submissions(snowflake_proxy)) == 1


def test_a_datetime_input_is_bound_by_the_connector(tmp_path: Path, snowflake_handler: TaskHandler) -> None:
    task = SnowflakeTask(
        name="by_day",
        query_template="SELECT ID FROM ORDERS WHERE DAY = CAST(%(day)s AS DATE) ORDER BY ID",
        task_config=CONFIG,
        inputs={"day": datetime.datetime},
        output_schema_type=StructuredDataset,
    )
    ctx = context(tmp_path, task, {"day": datetime.datetime(2024, 5, 2, tzinfo=datetime.UTC)})
    done = Driver(snowflake_handler, ctx).until_done()
    assert done.phase is TaskPhase.SUCCESS, done.error
    assert read_results(ctx)[0].to_pydict() == {"ID": [2, 3]}


@pytest.mark.parametrize(
    ("query", "service_message"),
    [
        ("SELEC 1", "001003 (42000): Invalid expression / Unexpected token"),
        ("SELECT * FROM NO_SUCH_TABLE", "NO_SUCH_TABLE does not exist"),
    ],
)
def test_a_rejected_query_is_a_user_error_naming_task_message_and_query(
    tmp_path: Path, snowflake_handler: TaskHandler, query: str, service_message: str
) -> None:
    task = SnowflakeTask(name="broken", query_template=query, task_config=CONFIG)
    done = Driver(snowflake_handler, context(tmp_path, task)).until_done()
    assert done.phase is TaskPhase.PERMANENT_FAILURE
    assert done.error is not None and done.error.kind.name == "USER"
    message = done.error.message
    assert "task 'broken'" in message and service_message in message and f"query: {query}" in message


def test_a_wrong_password_is_a_system_error_naming_the_service_message(
    tmp_path: Path, snowflake_proxy: RecordingProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROOST_SECRET_SNOWFLAKE_PASSWORD", "not-the-password")
    handler = build_handler(
        [roost_webapi.engine],
        "snowflake",
        section=snowflake_section(snowflake_proxy.port, max_system_failures=1),
    )
    try:
        done = Driver(handler, context(tmp_path, orders_task(), {"minimum": 1.0})).until_done()
    finally:
        handler.close()
    assert done.phase is TaskPhase.PERMANENT_FAILURE
    assert done.error is not None and done.error.kind.name == "SYSTEM"
    assert "task 'big_orders'" in done.error.message
    assert "Incorrect username or password" in done.error.message
    assert "not-the-password" not in done.error.message


def test_a_missing_password_names_the_secret_and_where_it_was_looked_for(
    tmp_path: Path, snowflake_proxy: RecordingProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ROOST_SECRET_SNOWFLAKE_PASSWORD", raising=False)
    handler = build_handler(
        [roost_webapi.engine],
        "snowflake",
        section=snowflake_section(
            snowflake_proxy.port, max_system_failures=0, secrets={"folder": str(tmp_path / "secrets")}
        ),
    )
    try:
        done = Driver(handler, context(tmp_path, orders_task(), {"minimum": 1.0})).until_done()
    finally:
        handler.close()
    assert done.error is not None
    assert "secret 'snowflake_password' not found" in done.error.message
    assert "ROOST_SECRET_SNOWFLAKE_PASSWORD" in done.error.message
    assert str(tmp_path / "secrets" / "snowflake_password") in done.error.message


def test_a_password_from_a_secret_file_logs_in(
    tmp_path: Path, snowflake_proxy: RecordingProxy, snowflake_password: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ROOST_SECRET_SNOWFLAKE_PASSWORD")
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "snowflake_password").write_text(snowflake_password + "\n")
    handler = build_handler(
        [roost_webapi.engine],
        "snowflake",
        section=snowflake_section(snowflake_proxy.port, secrets={"folder": str(tmp_path / "secrets")}),
    )
    try:
        done = Driver(handler, context(tmp_path, orders_task(), {"minimum": 1.0})).until_done()
    finally:
        handler.close()
    assert done.phase is TaskPhase.SUCCESS, done.error


def test_key_pair_authentication_sends_a_signed_token(
    tmp_path: Path, snowflake_proxy: RecordingProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    monkeypatch.setenv("ROOST_SECRET_SNOWFLAKE_PRIVATE_KEY", pem)
    section = snowflake_section(snowflake_proxy.port)
    section["authenticator"] = "key_pair"
    handler = build_handler([roost_webapi.engine], "snowflake", section=section)
    try:
        done = Driver(handler, context(tmp_path, orders_task(), {"minimum": 1.0})).until_done()
    finally:
        handler.close()
    assert done.phase is TaskPhase.SUCCESS, done.error
    (login, *_) = snowflake_proxy.matching("POST", r"^/session/v1/login-request")
    assert login.body["data"]["AUTHENTICATOR"] == "SNOWFLAKE_JWT"
    assert login.body["data"]["TOKEN"].count(".") == 2


def test_abort_cancels_the_query_on_the_server(
    tmp_path: Path, snowflake_handler: TaskHandler, snowflake_proxy: RecordingProxy
) -> None:
    snowflake_proxy.hold = True
    driver = Driver(snowflake_handler, context(tmp_path, orders_task(), {"minimum": 1.0}))
    driver.until(lambda t: t.phase is TaskPhase.RUNNING, "the query running")
    assert len(submissions(snowflake_proxy)) == 1
    driver.abort()
    assert len(snowflake_proxy.cancelled) == 1


def test_a_restarted_engine_reattaches_and_never_submits_twice(
    tmp_path: Path, snowflake_proxy: RecordingProxy, snowflake_password: str
) -> None:
    snowflake_proxy.hold = True
    task = orders_task()
    engine = OneTaskEngine(
        template_of(task),
        file_storage(tmp_path),
        data_prefix=f"file://{tmp_path}/data",
        plugins=[roost_webapi.engine],
        config=EngineConfig(
            poll_interval=0.05, handlers={"snowflake": snowflake_section(snowflake_proxy.port)}
        ),
    )
    try:
        engine.start(literal_inputs(task, {"minimum": 50.0}))
        wait_until(lambda: engine.round() and len(submissions(snowflake_proxy)) == 1, "the query submitted")
        engine.round()
        engine.restart()
        snowflake_proxy.hold = False
        run = engine.run_to_end()
        assert run.state.phase.name == "SUCCEEDED", run.state.error
        assert len(submissions(snowflake_proxy)) == 1
    finally:
        engine.close()


def test_a_service_that_is_down_is_retried_then_a_system_error(
    tmp_path: Path, snowflake_proxy: RecordingProxy, snowflake_password: str
) -> None:
    snowflake_proxy.down = True
    handler = build_handler(
        [roost_webapi.engine],
        "snowflake",
        section=snowflake_section(snowflake_proxy.port, max_system_failures=1),
    )
    try:
        done = Driver(handler, context(tmp_path, orders_task(), {"minimum": 1.0})).until_done()
    finally:
        handler.close()
    assert done.phase is TaskPhase.PERMANENT_FAILURE
    assert done.error is not None and done.error.kind.name == "SYSTEM"
    assert "task 'big_orders'" in done.error.message and "2 times" in done.error.message
