"""The engine side, built as an engine builds it: inputs of every kind, the errors naming the task and the
input or setting at fault, the settings (a database file, a cap on running queries)."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from conftest import primitive, template_of
from flyteidl.core import literals_pb2, types_pb2

import roost_duckdb_sql.engine
import roost_duckdb_sql.handler
from roost_core.extend import ErrorKind, SettingsError, TaskContext, TaskHandler, TaskPhase, Transition
from roost_core.testing.driver import Driver, wait_until
from roost_core.testing.harness import build_handler
from roost_core.testing.tasks import task_context
from roost_duckdb_sql import OUTPUT, DuckDBSQLTask
from roost_duckdb_sql.testing import running_queries


@pytest.fixture
def handler() -> Iterator[TaskHandler]:
    built = build_handler([roost_duckdb_sql.engine], "duckdb_sql", section={"threads": 1})
    yield built
    built.close()


def dataset(uri: str, file_format: str = "parquet") -> literals_pb2.Literal:
    metadata = literals_pb2.StructuredDatasetMetadata(
        structured_dataset_type=types_pb2.StructuredDatasetType(format=file_format)
    )
    value = literals_pb2.StructuredDataset(uri=uri, metadata=metadata)
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(structured_dataset=value))


def trips_folder(root: Path, file_format: str = "parquet") -> str:
    """A data frame stored as the SDK stores one: a folder holding its data file."""
    folder = root / "trips"
    folder.mkdir(parents=True)
    frame = pd.DataFrame({"city": ["Paris", "Lyon", "Lyon"], "fare": [30.0, 25.0, 4.0]})
    if file_format == "csv":
        (folder / ".csv").write_text(frame.to_csv(index=False))  # the name the SDK's CSV writer gives it
    else:
        frame.to_parquet(folder / "00000")
    return f"file://{folder}"


def run(
    handler: TaskHandler, root: Path, task: DuckDBSQLTask, **inputs: literals_pb2.Literal
) -> tuple[TaskContext, Transition]:
    ctx = task_context(root, template_of(task), inputs=literals_pb2.LiteralMap(literals=inputs))
    driver = Driver(handler, ctx)
    done = driver.until_done()
    driver.finalize()
    return ctx, done


def result_frame(ctx: TaskContext) -> pd.DataFrame:
    outputs = ctx.storage.read_proto(ctx.outputs_uri, literals_pb2.LiteralMap)
    stored = outputs.literals[OUTPUT].scalar.structured_dataset
    assert stored.metadata.structured_dataset_type.format == "parquet"
    return pd.read_parquet(stored.uri.removeprefix("file://"))


def test_tables_and_parameters_of_every_type(handler: TaskHandler, tmp_path: Path) -> None:
    task = DuckDBSQLTask(
        "fares",
        "select city, sum(fare) as total, $label as label, $when as at, $strict as strict from trips "
        "where fare >= $min_fare and $least < 10 group by city order by city",
        inputs={
            "trips": pd.DataFrame,
            "min_fare": float,
            "least": int,
            "label": str,
            "when": datetime.datetime,
            "strict": bool,
        },
    )
    when = datetime.datetime(2026, 12, 6, 3, 0, tzinfo=datetime.UTC)
    moment = literals_pb2.Literal()
    moment.scalar.primitive.datetime.FromDatetime(when)
    ctx, done = run(
        handler,
        tmp_path,
        task,
        trips=dataset(trips_folder(tmp_path)),
        min_fare=primitive(float_value=10.0),
        least=primitive(integer=3),
        label=primitive(string_value="big"),
        when=moment,
        strict=primitive(boolean=True),
    )
    assert done.phase is TaskPhase.SUCCESS, done.error
    frame = result_frame(ctx)
    assert frame[["city", "total", "label", "strict"]].to_dict("list") == {
        "city": ["Lyon", "Paris"],
        "total": [25.0, 30.0],
        "label": ["big", "big"],
        "strict": [True, True],
    }
    assert frame["at"][0].tz_convert("UTC") == pd.Timestamp(when)


def test_a_csv_data_frame_is_a_table_too(handler: TaskHandler, tmp_path: Path) -> None:
    task = DuckDBSQLTask("count", "select count(*) as n from trips", inputs={"trips": pd.DataFrame})
    ctx, done = run(handler, tmp_path, task, trips=dataset(trips_folder(tmp_path, "csv"), "csv"))
    assert done.phase is TaskPhase.SUCCESS, done.error
    assert result_frame(ctx)["n"].tolist() == [3]


def test_errors_name_the_task_and_what_is_wrong(handler: TaskHandler, tmp_path: Path) -> None:
    bad_sql = DuckDBSQLTask("bad_sql", "select city from trips where", inputs={"trips": pd.DataFrame})
    _, done = run(handler, tmp_path / "a", bad_sql, trips=dataset(trips_folder(tmp_path / "a")))
    assert done.phase is TaskPhase.RETRYABLE_FAILURE and done.error is not None
    assert done.error.kind is ErrorKind.USER and done.error.code == "QueryFailed"
    assert done.error.message.startswith(
        "duckdb-sql task 'bad_sql': the query failed: Parser Error: syntax error"
    )

    param = DuckDBSQLTask("needs_x", "select $x as x", inputs={"x": int})
    _, done = run(handler, tmp_path / "b", param)
    assert done.error is not None and done.error.kind is ErrorKind.USER
    assert done.phase is TaskPhase.PERMANENT_FAILURE
    assert done.error.message == "duckdb-sql task 'needs_x': input 'x' is missing"

    as_list = literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=[primitive(integer=1)]))
    _, done = run(handler, tmp_path / "c", param, x=as_list)
    assert done.error is not None and done.error.kind is ErrorKind.USER
    assert done.error.message == (
        "duckdb-sql task 'needs_x': input 'x' is a collection: parameters are integers, floats, strings, "
        "booleans or datetimes, and data frames are tables"
    )

    table = DuckDBSQLTask("odd_format", "select * from trips", inputs={"trips": pd.DataFrame})
    _, done = run(handler, tmp_path / "d", table, trips=dataset("file:///nowhere", "avro"))
    assert done.error is not None and done.error.kind is ErrorKind.USER
    assert done.error.message == (
        "duckdb-sql task 'odd_format': input 'trips' is stored as 'avro'; DuckDB reads parquet and csv data frames"
    )

    _, done = run(handler, tmp_path / "e", table, trips=dataset(f"file://{tmp_path}/e/empty"))
    assert done.error is not None
    assert (
        done.error.message
        == f"duckdb-sql task 'odd_format': input 'trips': no data at file://{tmp_path}/e/empty"
    )


def test_unreadable_input_data_is_a_system_error_naming_the_input(
    handler: TaskHandler, tmp_path: Path
) -> None:
    table = DuckDBSQLTask("outside", "select * from trips", inputs={"trips": pd.DataFrame})
    _, done = run(handler, tmp_path / "root", table, trips=dataset(f"file://{tmp_path}/elsewhere"))
    assert done.error is not None and done.error.kind is ErrorKind.SYSTEM
    assert done.error.message.startswith("duckdb-sql task 'outside': input 'trips': ")
    assert "outside the storage root" in done.error.message


def test_queries_read_the_configured_database(tmp_path: Path) -> None:
    database = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(database)) as connection:
        connection.execute(
            "create table cities as select * from (values ('Paris', 2), ('Lyon', 1)) t(name, rank)"
        )
    task = DuckDBSQLTask("first", "select name from cities where rank = $rank", inputs={"rank": int})
    handler = build_handler([roost_duckdb_sql.engine], "duckdb_sql", section={"database": str(database)})
    try:
        ctx, done = run(handler, tmp_path, task, rank=primitive(integer=1))
        assert done.phase is TaskPhase.SUCCESS, done.error
        assert result_frame(ctx)["name"].tolist() == ["Lyon"]
        # read-only: a task cannot change the shared database
        writer = DuckDBSQLTask("writer", "insert into cities values ('Nice', 3) returning name")
        _, done = run(handler, tmp_path / "w", writer)
        assert done.error is not None and done.error.kind is ErrorKind.USER
        assert "read-only" in done.error.message
    finally:
        handler.close()


def test_a_missing_database_is_a_system_error_naming_the_setting(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "warehouse.duckdb"
    handler = build_handler([roost_duckdb_sql.engine], "duckdb_sql", section={"database": str(missing)})
    try:
        _, done = run(handler, tmp_path, DuckDBSQLTask("one", "select 1 as one"))
    finally:
        handler.close()
    assert done.error is not None and done.error.kind is ErrorKind.SYSTEM
    assert done.error.message.startswith(
        f"duckdb-sql task 'one': cannot open the database '{missing}' (engine.handlers.duckdb_sql.database): "
    )


def test_bad_settings_are_refused_naming_the_key() -> None:
    with pytest.raises(SettingsError, match=r"engine\.handlers\.duckdb_sql\.max_queries"):
        build_handler([roost_duckdb_sql.engine], "duckdb_sql", section={"max_queries": 0})


def test_queries_beyond_max_queries_wait_for_a_slot(tmp_path: Path) -> None:
    handler = build_handler([roost_duckdb_sql.engine], "duckdb_sql", section={"max_queries": 1, "threads": 1})
    slow = DuckDBSQLTask("slow", "select sum(i) as total from range($n) t(i)", inputs={"n": int})
    n = literals_pb2.LiteralMap(literals={"n": primitive(integer=10**12)})
    try:
        first = task_context(tmp_path, template_of(slow), inputs=n, execution="first")
        second = task_context(tmp_path, template_of(slow), inputs=n, execution="second")
        assert handler.handle(first).phase is TaskPhase.RUNNING
        waiting = handler.handle(second)
        assert waiting.phase is TaskPhase.WAITING_FOR_RESOURCES
        assert (
            waiting.reason == "1 DuckDB queries run in this engine (max_queries: 1); waiting for one to end"
        )
        handler.abort(first)
        wait_until(lambda: running_queries() == 0, "the aborted query to stop")
        handler.finalize(first)
        assert handler.handle(second).phase is TaskPhase.RUNNING
        handler.abort(second)
    finally:
        handler.close()
    assert running_queries() == 0


def test_failures_of_the_engine_side_are_system_errors_naming_the_task(
    handler: TaskHandler, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = DuckDBSQLTask("one", "select 1 as one")

    unreadable = task_context(tmp_path / "a", template_of(one))
    unreadable.storage.write(unreadable.inputs_uri, b"not a literal map")
    done = Driver(handler, unreadable).until_done()
    assert done.error is not None and done.error.kind is ErrorKind.SYSTEM
    assert done.error.code == "InputsUnreadable"
    assert done.error.message.startswith("duckdb-sql task 'one': ")
    assert "is not a valid flyteidl.core.LiteralMap" in done.error.message

    nowhere = dataclasses.replace(
        task_context(tmp_path / "b", template_of(one), execution="b"), raw_output_prefix="nope://x"
    )
    done = Driver(handler, nowhere).until_done()
    assert done.error is not None and done.error.kind is ErrorKind.SYSTEM
    assert done.error.code == "OutputsUnwritable"
    assert done.error.message.startswith("duckdb-sql task 'one': ")

    # a bug in the handler still ends the attempt, as a SYSTEM error with the exception
    def broken(ctx: TaskContext, result_file: Path) -> literals_pb2.LiteralMap:
        raise RuntimeError("a bug")

    monkeypatch.setattr(roost_duckdb_sql.handler, "_outputs", broken)
    done = Driver(handler, task_context(tmp_path / "c", template_of(one), execution="c")).until_done()
    assert done.error is not None and done.error.kind is ErrorKind.SYSTEM
    assert done.error.message == "duckdb-sql task 'one': RuntimeError: a bug"


def test_a_template_without_a_query_is_a_permanent_user_error(handler: TaskHandler, tmp_path: Path) -> None:
    template = template_of(DuckDBSQLTask("empty", "select 1"))
    template.custom.Clear()
    done = Driver(handler, task_context(tmp_path, template)).until_done()
    assert done.phase is TaskPhase.PERMANENT_FAILURE and done.error is not None
    assert done.error.kind is ErrorKind.USER
    assert done.error.message == "duckdb-sql task 'empty': TaskTemplate.custom has no 'query'"


def test_an_aborted_query_stops_and_says_so(handler: TaskHandler, tmp_path: Path) -> None:
    slow = DuckDBSQLTask("slow", "select sum(i) as total from range($n) t(i)", inputs={"n": int})
    ctx = task_context(
        tmp_path, template_of(slow), inputs=literals_pb2.LiteralMap(literals={"n": primitive(integer=10**12)})
    )
    assert handler.handle(ctx).phase is TaskPhase.RUNNING
    handler.abort(ctx)
    handler.abort(ctx)
    ended = wait_until(lambda: handler.handle(ctx).error, "the aborted query to end")
    assert ended.kind is ErrorKind.SYSTEM
    assert ended.message == "duckdb-sql task 'slow': the query was interrupted"
    handler.finalize(ctx)
    assert running_queries() == 0
