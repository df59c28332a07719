"""The Trino test server, driven by the real ``trino`` client: protocol, paging, cancel, errors, parameters."""

from __future__ import annotations

import datetime
import decimal
import json
import subprocess
import sys

import pytest
import requests
import trino
from trino.client import ClientSession, TrinoRequest
from trino.exceptions import HttpError, TrinoQueryError, TrinoUserError

from roost_presto.testing import TrinoTestServer, user_error


def connect(server: TrinoTestServer, **options: object) -> trino.dbapi.Connection:
    return trino.dbapi.connect(
        host=server.host, port=server.port, user="tester", catalog="memory", schema="default", **options
    )


def run(cursor: trino.dbapi.Cursor, sql: str) -> list[list[object]]:
    cursor.execute(sql)
    return cursor.fetchall()


def drain(req: TrinoRequest, uri: str | None) -> None:
    while uri:
        uri = req.process(req.get(uri)).next_uri


def request(server: TrinoTestServer, **session: object) -> TrinoRequest:
    return TrinoRequest(
        server.host,
        server.port,
        ClientSession(user="tester", catalog="memory", schema="default", **session),
        http_scheme="http",
    )


def test_a_query_pages_through_several_chunks(trino_server: TrinoTestServer) -> None:
    cursor = connect(trino_server).cursor()
    cursor.execute("SELECT id, city, ds, fare FROM trips ORDER BY id")
    rows = cursor.fetchall()
    assert [r[0] for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0][1:] == ["ams", datetime.date(2024, 1, 1), decimal.Decimal("12.50")]
    assert [d[0:2] for d in cursor.description] == [
        ("id", "integer"),
        ("city", "varchar"),
        ("ds", "date"),
        ("fare", "decimal(4, 2)"),
    ]
    assert trino_server.submissions == 1
    assert trino_server.queries[0].state == "FINISHED"


def test_states_go_queued_running_finished_with_next_uris(trino_server: TrinoTestServer) -> None:
    trino_server.queued_seconds = 0.3
    trino_server.run_seconds = 0.3
    req = request(trino_server)
    first = req.process(req.post("SELECT id FROM trips ORDER BY id"))
    assert first.stats["state"] == "QUEUED"
    assert "/v1/statement/queued/" in first.next_uri
    states, pages, uri = [], [], first.next_uri
    while uri:
        status = req.process(req.get(uri))
        states.append(status.stats["state"])
        if status.rows:
            pages.append([r[0] for r in status.rows])
        uri = status.next_uri
    assert "RUNNING" in states
    assert states[-1] == "FINISHED"
    assert pages == [[1, 2], [3, 4], [5]]


def test_the_current_token_can_be_fetched_again_and_others_are_refused(trino_server: TrinoTestServer) -> None:
    req = request(trino_server)
    uri = req.process(req.post("SELECT id FROM trips ORDER BY id")).next_uri
    while True:
        status = req.process(req.get(uri))
        if status.rows:
            break
        uri = status.next_uri
    again = req.process(req.get(uri))
    assert again.rows == status.rows and again.next_uri == status.next_uri
    skipped = status.next_uri.rsplit("/", 1)[0] + "/" + str(int(status.next_uri.rsplit("/", 1)[1]) + 1)
    with pytest.raises(HttpError, match="410"):
        req.process(req.get(skipped))


def test_delete_cancels_a_running_query(trino_server: TrinoTestServer) -> None:
    trino_server.run_seconds = 30
    req = request(trino_server)
    first = req.process(req.post("SELECT * FROM trips"))
    assert req.delete(first.next_uri).status_code == 204
    record = trino_server.query(first.id)
    assert record.cancelled and record.state == "FAILED"
    with pytest.raises(TrinoUserError) as failed:
        req.process(req.get(first.next_uri))
    assert failed.value.error_name == "USER_CANCELED"


def test_the_client_cancels_through_delete(trino_server: TrinoTestServer) -> None:
    trino_server.run_seconds = 30
    cursor = connect(trino_server).cursor()
    query = trino.client.TrinoQuery(cursor.connection._create_request(), "SELECT * FROM trips")
    req = query._request
    status = req.process(req.post("SELECT * FROM trips"))
    query._next_uri = status.next_uri
    query.cancel()
    assert query.cancelled
    assert trino_server.query(status.id).cancelled


@pytest.mark.parametrize(
    ("sql", "name", "code", "message"),
    [
        ("SELECT * FROM missing", "TABLE_NOT_FOUND", 46, "Table 'memory.default.missing' does not exist"),
        ("SELEC 1", "SYNTAX_ERROR", 1, "line 1:1"),
        ("SELECT nope FROM trips", "COLUMN_NOT_FOUND", 47, "Column 'nope' cannot be resolved"),
        ("SELECT CAST('x' AS INTEGER)", "INVALID_CAST_ARGUMENT", 9, "'x'"),
    ],
)
def test_user_errors_carry_trinos_names(
    trino_server: TrinoTestServer, sql: str, name: str, code: int, message: str
) -> None:
    cursor = connect(trino_server).cursor()
    with pytest.raises(TrinoUserError) as failed:
        run(cursor, sql)
    assert failed.value.error_name == name
    assert failed.value.error_code == code
    assert failed.value.error_type == "USER_ERROR"
    assert message in failed.value.message


def test_injected_failures_are_internal_errors(trino_server: TrinoTestServer) -> None:
    trino_server.fail_next_queries(1)
    cursor = connect(trino_server).cursor()
    with pytest.raises(TrinoQueryError) as failed:
        run(cursor, "SELECT 1")
    assert failed.value.error_type == "INTERNAL_ERROR"
    assert failed.value.error_name == "GENERIC_INTERNAL_ERROR"
    cursor.execute("SELECT 1")
    assert cursor.fetchall() == [[1]]
    trino_server.fail_next_queries(1, user_error("PERMISSION_DENIED", 4, "Access Denied: Cannot select"))
    with pytest.raises(TrinoUserError, match="Access Denied"):
        run(cursor, "SELECT 1")


def test_refused_requests_are_http_errors(trino_server: TrinoTestServer) -> None:
    trino_server.refuse_requests(1, 503)
    req = request(trino_server)
    req.max_attempts = 1
    with pytest.raises(trino.exceptions.Http503Error):
        req.process(req.post("SELECT 1"))
    assert trino_server.submissions == 0


@pytest.mark.parametrize("legacy", [False, True], ids=["execute-immediate", "prepare-execute"])
def test_parameters_are_bound_as_the_client_sends_them(trino_server: TrinoTestServer, legacy: bool) -> None:
    cursor = connect(trino_server, legacy_prepared_statements=legacy).cursor()
    cursor.execute(
        "SELECT id FROM trips WHERE city = ? AND ds >= ? ORDER BY id LIMIT ?",
        ["ams", datetime.date(2024, 1, 2), 5],
    )
    assert cursor.fetchall() == [[3], [5]]
    cursor.execute("SELECT ? || '!'", ["it's"])  # quotes travel as a literal, not as SQL
    assert cursor.fetchall() == [["it's!"]]
    sent = [q.sql for q in trino_server.queries]
    if legacy:
        assert sent[0].startswith("PREPARE st_") and sent[1].startswith("EXECUTE st_")
        assert sent[2].startswith("DEALLOCATE PREPARE st_")
        assert "x-trino-prepared-statement" in trino_server.queries[1].headers
    else:
        assert sent[0].startswith("EXECUTE IMMEDIATE 'SELECT id FROM trips WHERE city = ?")


def test_a_parameter_count_mismatch_is_a_user_error(trino_server: TrinoTestServer) -> None:
    req = request(trino_server)
    uri = req.process(req.post("EXECUTE IMMEDIATE 'SELECT ?, ?' USING 1")).next_uri
    with pytest.raises(TrinoUserError, match="Incorrect number of parameters: expected 2 but found 1"):
        drain(req, uri)


def test_catalog_and_schema_come_from_the_headers() -> None:
    with TrinoTestServer(catalogs=("hive",)) as server:
        server.execute("CREATE SCHEMA hive.sales")
        server.execute("CREATE TABLE hive.sales.orders AS SELECT 42 AS n")
        cursor = trino.dbapi.connect(
            host=server.host, port=server.port, user="u", catalog="hive", schema="sales"
        ).cursor()
        cursor.execute("SELECT n FROM orders")
        assert cursor.fetchall() == [[42]]
        assert server.queries[0].catalog == "hive" and server.queries[0].schema == "sales"
        other = trino.dbapi.connect(host=server.host, port=server.port, user="u", catalog="nope").cursor()
        with pytest.raises(TrinoUserError, match="Catalog 'nope' not found"):
            run(other, "SELECT 1")


def test_a_user_is_required_and_passwords_are_checked() -> None:
    with TrinoTestServer(users={"alice": "s3cret"}) as server:
        url = f"{server.url}/v1/statement"
        headers = {"X-Trino-User": "alice"}
        assert requests.post(url, data="SELECT 1", headers=headers, timeout=5).status_code == 401
        wrong = requests.post(url, data="SELECT 1", headers=headers, auth=("alice", "nope"), timeout=5)
        assert wrong.status_code == 401
        ok = requests.post(url, data="SELECT 1", headers=headers, auth=("alice", "s3cret"), timeout=5)
        assert ok.status_code == 200 and ok.json()["stats"]["state"] == "QUEUED"
        nobody = requests.post(url, data="SELECT 1", auth=("alice", "s3cret"), timeout=5)
        assert nobody.status_code == 400 and "User must be set" in nobody.text


def test_query_info_and_server_info(trino_server: TrinoTestServer) -> None:
    cursor = connect(trino_server).cursor()
    run(cursor, "SELECT 1")
    query_id = cursor.query_id
    info = requests.get(f"{trino_server.url}/v1/query/{query_id}", timeout=5).json()
    assert info["state"] == "FINISHED" and info["query"] == "SELECT 1"
    assert requests.get(f"{trino_server.url}/v1/info", timeout=5).json()["coordinator"] is True


def test_it_runs_as_a_process(tmp_path: pytest.TempPathFactory) -> None:
    setup = tmp_path / "setup.sql"  # type: ignore[operator]
    setup.write_text("CREATE TABLE t AS SELECT 7 AS n;")
    process = subprocess.Popen(
        [sys.executable, "-m", "roost_presto.testing", "--port", "0", "--setup", str(setup)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        host, port = url.removeprefix("http://").split(":")
        cursor = trino.dbapi.connect(
            host=host, port=int(port), user="u", catalog="memory", schema="default"
        ).cursor()
        cursor.execute("SELECT n FROM t")
        assert cursor.fetchall() == [[7]]
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


def test_types_are_encoded_as_trino_encodes_them(trino_server: TrinoTestServer) -> None:
    req = request(trino_server)
    uri = req.process(
        req.post(
            "SELECT CAST(1.5 AS DECIMAL(10,2)) d, ARRAY[1,2] a, X'0A' b, "
            "TIMESTAMP '2024-01-01 10:00:00.123456' ts, CAST(NULL AS BIGINT) n, CAST('NaN' AS DOUBLE) nan"
        )
    ).next_uri
    raw = None
    while uri:
        response = req.get(uri)
        status = req.process(response)
        if status.rows:
            raw = json.loads(response.text)["data"][0]
        uri = status.next_uri
    assert raw == ["1.50", [1, 2], "Cg==", "2024-01-01 10:00:00.123456", None, "NaN"]
