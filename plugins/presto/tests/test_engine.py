"""The presto handler on a real engine against the Trino test server, driven by the real trino client."""

from __future__ import annotations

import time
from pathlib import Path

from flyteidl.core import literals_pb2
from helpers import engine, handler, inputs, read_results, trips_task

from roost_core.engine.state import WorkflowPhase
from roost_core.handler import TaskPhase
from roost_core.testing.driver import Driver
from roost_core.testing.tasks import task_context
from roost_presto.testing import TrinoTestServer


def test_a_query_runs_with_bound_parameters_and_pages_into_parquet(
    tmp_path: Path, trino_server: TrinoTestServer
) -> None:
    run = engine(trips_task(), tmp_path, trino_server)
    try:
        run.start(inputs("ams", 10))
        assert run.run_to_end().state.phase is WorkflowPhase.SUCCEEDED
        table = read_results(run.storage, run.outputs())
    finally:
        run.close()
    assert table.column("id").to_pylist() == [1, 3, 5]
    assert table.column("city").to_pylist() == ["ams"] * 3
    assert [str(v) for v in table.column("fare").to_pylist()] == ["12.50", "3.00", "9.75"]
    (query,) = trino_server.queries
    # the values travel as parameters of EXECUTE IMMEDIATE, formatted by the trino client
    assert query.sql.startswith("EXECUTE IMMEDIATE 'SELECT id, city, fare FROM trips WHERE city = ? ORDER BY")
    assert query.sql.endswith("USING 'ams',10")
    assert query.catalog == "memory" and query.schema == "default"
    parts = list(run.storage.list(run.outputs().literals["results"].scalar.structured_dataset.uri))
    assert len(parts) == 2  # two pages of at most two rows


def test_an_input_is_never_pasted_into_the_sql(tmp_path: Path, trino_server: TrinoTestServer) -> None:
    hostile = "ams' OR '1'='1"
    run = engine(trips_task(), tmp_path, trino_server)
    try:
        run.start(inputs(hostile, 10))
        assert run.run_to_end().state.phase is WorkflowPhase.SUCCEEDED
        assert read_results(run.storage, run.outputs()).num_rows == 0
    finally:
        run.close()


def test_an_empty_result_keeps_its_columns(tmp_path: Path, trino_server: TrinoTestServer) -> None:
    run = engine(trips_task(), tmp_path, trino_server)
    try:
        run.start(inputs("nowhere", 10))
        assert run.run_to_end().state.phase is WorkflowPhase.SUCCEEDED
        table = read_results(run.storage, run.outputs())
    finally:
        run.close()
    assert table.num_rows == 0 and table.column_names == ["id", "city", "fare"]


def test_a_restarted_engine_reattaches_and_never_submits_again(
    tmp_path: Path, trino_server: TrinoTestServer
) -> None:
    trino_server.run_seconds = 1.0
    run = engine(trips_task(), tmp_path, trino_server)
    run.start(inputs("ams", 10))
    deadline = time.monotonic() + 10
    while trino_server.submissions == 0 or run.node.phase.name not in ("QUEUED", "RUNNING"):
        run.round()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert trino_server.submissions == 1
    run.restart()  # the old engine's handlers are closed: as if the process died
    try:
        assert run.run_to_end().state.phase is WorkflowPhase.SUCCEEDED
        assert read_results(run.storage, run.outputs()).column("id").to_pylist() == [1, 3, 5]
    finally:
        run.close()
    assert trino_server.submissions == 1


def test_a_restart_in_the_middle_of_paging_loses_and_repeats_no_page(
    tmp_path: Path, trino_server: TrinoTestServer
) -> None:
    template = trips_task("SELECT id FROM trips ORDER BY id LIMIT {{ .inputs.limit }}")
    presto = handler(trino_server, poll_budget=0.001)  # one response per status fetch
    first = Driver(presto, task_context(tmp_path, template, inputs=inputs("x", 5)))
    first.until(lambda t: len(list(tmp_path.rglob("part-*.parquet"))) == 1, "the first page stored")
    presto.close()
    second_handler = handler(trino_server)
    try:
        ctx = task_context(tmp_path, template, inputs=inputs("x", 5), state=first.ctx.state)
        done = Driver(second_handler, ctx).until_done()
        assert done.phase is TaskPhase.SUCCESS
        outputs = ctx.storage.read_proto(ctx.outputs_uri, literals_pb2.LiteralMap)
        assert read_results(ctx.storage, outputs).column("id").to_pylist() == [1, 2, 3, 4, 5]
    finally:
        second_handler.close()
    assert trino_server.submissions == 1
