"""How many SQL statements an RPC costs, counted on the admin's engine (SQLite and PostgreSQL): CreateExecution
and a list filtered by launch plan make no needless round trips, the list is served by an index, and a pooled
PostgreSQL connection the server dropped is replaced without a ping on every checkout."""

from __future__ import annotations

import base64
import datetime
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import grpc
import pytest
import sqlalchemy
from conftest import fresh_database
from execution_support import DOMAIN, PROJECT, launch, running_admin
from flyteidl.admin import common_pb2
from sqlalchemy import event

from roost_admin.app import AdminApp
from roost_admin.db import base, models

Sent = dict[int, list[tuple[str, Any]]]


@contextmanager
def statements(app: AdminApp) -> Iterator[Sent]:
    """The statements (with their parameters) each thread sent to the database while the block ran."""
    seen: Sent = {}
    lock = threading.Lock()

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        with lock:
            seen.setdefault(threading.get_ident(), []).append((" ".join(statement.split()), parameters))

    engine = app.db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def of_the_call(seen: Sent, marker: str) -> list[tuple[str, Any]]:
    """The statements of the thread that served the call: the one that sent ``marker``."""
    (found,) = [sent for sent in seen.values() if any(marker in statement for statement, _ in sent)]
    return found


@pytest.fixture
def pings(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every ping of a pooled connection (the driver connections pinged)."""
    pinged: list[object] = []
    real = base.ping

    def counted(connection: Any) -> None:
        pinged.append(connection)
        real(connection)

    monkeypatch.setattr(base, "ping", counted)
    return pinged


def test_create_execution_costs_three_statements_on_postgresql_four_on_sqlite_and_no_ping(
    tmp_path, database_url, pings
) -> None:
    with running_admin(tmp_path, database_url, workers=0) as (app, admin, _):
        launch(admin, "one", x=1)
        with statements(app) as seen:
            launch(admin, "one", x=2)
    full = [statement for statement, _ in of_the_call(seen, "INSERT INTO executions")]
    sent = [statement.split(" (")[0].split(" WHERE")[0] for statement in full]
    # The project (exists, active), the matchable attributes that apply, the execution and its first state
    # (one statement on PostgreSQL, whose INSERT can take its row from another's RETURNING). The launch plan and
    # its workflow, launched before, come from the cache. A taken name is the insert's unique violation, not a
    # SELECT.
    assert sent[0].startswith("SELECT projects.state") and "FROM projects" in sent[0]
    assert "FROM matchable_attributes" in sent[1]
    if database_url.startswith("postgresql"):
        assert len(sent) == 3, sent
        assert full[2].startswith("WITH new_execution AS (INSERT INTO executions")
        assert "INSERT INTO execution_states" in full[2]
    else:
        assert sent[2:] == ["INSERT INTO executions", "INSERT INTO execution_states"], sent
    assert pings == [], "a connection in steady use is not pinged"


def test_the_first_launch_of_a_version_reads_it_in_one_join(tmp_path, database_url) -> None:
    with running_admin(tmp_path, database_url, workers=0) as (app, admin, _), statements(app) as seen:
        launch(admin, "one", x=1)
    sent = [statement for statement, _ in of_the_call(seen, "INSERT INTO executions")]
    # One statement fewer on PostgreSQL: the execution and its first state in one.
    assert len(sent) == (4 if database_url.startswith("postgresql") else 5), sent
    assert "FROM launch_plans LEFT OUTER JOIN workflows" in sent[1]


def test_a_taken_name_is_refused_and_the_original_is_untouched(tmp_path, database_url) -> None:
    with running_admin(tmp_path, database_url, workers=0) as (app, admin, _):
        first = launch(admin, "one", name="taken", x=1)
        spec_before = app.services.executions.get_execution(_get(first)).spec
        with pytest.raises(grpc.RpcError) as refused:
            launch(admin, "one", name="taken", x=2)
        assert refused.value.code() == grpc.StatusCode.ALREADY_EXISTS
        assert refused.value.details() == f"execution {PROJECT}/{DOMAIN}/taken already exists"
        data = app.services.executions.get_execution_data(_data(first))
        assert data.full_inputs.literals["x"].scalar.primitive.integer == 1, "the original's inputs were kept"
        assert app.services.executions.get_execution(_get(first)).spec == spec_before


def _get(ident: Any) -> Any:
    from flyteidl.admin import execution_pb2

    return execution_pb2.WorkflowExecutionGetRequest(id=ident)


def _data(ident: Any) -> Any:
    from flyteidl.admin import execution_pb2

    return execution_pb2.WorkflowExecutionGetDataRequest(id=ident)


def test_a_dropped_postgres_connection_is_replaced_after_idling(tmp_path, monkeypatch, pings) -> None:
    monkeypatch.setattr(base, "PING_AFTER_IDLE", 0.0)
    with (
        fresh_database("postgres", tmp_path) as url,
        running_admin(tmp_path, url, workers=0) as (_, admin, _s),
    ):
        launch(admin, "one", x=1)
        server = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
        with server.connect() as connection:
            ended = connection.execute(
                sqlalchemy.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
        server.dispose()
        assert ended >= 1, "the admin's pooled connections were ended"
        assert launch(admin, "one", x=2).name, "the next call is served on a fresh connection"
        assert pings, "the idle connection was pinged, found dead and replaced"


LAUNCH_PLANS = 400
PER_PLAN = 12


def test_a_list_filtered_by_launch_plan_uses_the_index(tmp_path, database_url) -> None:
    with running_admin(tmp_path, database_url, workers=0) as (app, admin, _):
        launch(admin, "one", x=1)
        _many_executions(app)
        request = common_pb2.ResourceListRequest(
            id=common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN),
            limit=10,
            filters="eq(launch_plan.name,plan-7)",
            sort_by=common_pb2.Sort(key="created_at", direction=common_pb2.Sort.DESCENDING),
        )
        with statements(app) as seen:
            listed = admin.ListExecutions(request)
        assert len(listed.executions) == 10 and listed.token.startswith("~"), "a keyset token"
        query = [(s, p) for s, p in of_the_call(seen, "FROM executions") if "FROM executions" in s]
        assert len(query) == 1, "one query for the page (its rows' details come without one per row)"
        plan = _explain(app, *query[0])
        assert "ix_executions_launch_plan_id_created_at" in plan, plan


def test_executions_pages_seek_through_the_index(tmp_path, database_url) -> None:
    with running_admin(tmp_path, database_url, workers=0) as (app, admin, _):
        launch(admin, "one", x=1)
        _many_executions(app)
        request = common_pb2.ResourceListRequest(
            id=common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN), limit=25
        )
        seen: list[str] = []
        tokens: list[str] = []
        with statements(app) as sent:
            while True:
                listed = admin.ListExecutions(request)
                seen += [e.id.name for e in listed.executions]
                tokens.append(listed.token)
                if not listed.token:
                    break
                request.token = listed.token
        assert len(seen) == len(set(seen)) == LAUNCH_PLANS * PER_PLAN + 1, "every execution once"
        assert seen[1:3] == [f"e{LAUNCH_PLANS - 1}-{PER_PLAN - 1}", f"e{LAUNCH_PLANS - 1}-{PER_PLAN - 2}"]
        assert seen[-1] == "e0-0", "newest first, to the oldest"
        assert all(t.startswith("~") for t in tokens[:-1]) and tokens[-1] == ""
        seeks = [
            s
            for sent_by in sent.values()
            for s in sent_by
            if "(executions.created_at, executions.id) <" in s[0]
        ]
        assert len(seeks) == len(tokens) - 1, "each page after the first starts where the last ended"
        deep = seeks[-1]
        plan = _explain(app, *deep)
        assert "ix_executions_project_domain_state_created_at_id" in plan, plan
        assert "TEMP B-TREE" not in plan.upper() and "Sort" not in plan, f"the index gives the order: {plan}"

        offset_page = admin.ListExecutions(
            common_pb2.ResourceListRequest(id=request.id, limit=25, token="25")
        )
        assert [e.id.name for e in offset_page.executions] == seen[25:50], "numeric offset tokens still work"
        assert offset_page.token.startswith("~"), "and the next page is a keyset token"
        following = admin.ListExecutions(
            common_pb2.ResourceListRequest(id=request.id, limit=25, token=offset_page.token)
        )
        assert [e.id.name for e in following.executions] == seen[50:75]


def _keyset_token(*position: Any) -> str:
    return "~" + base64.urlsafe_b64encode(json.dumps(list(position)).encode()).decode()


@pytest.mark.parametrize(
    ("token", "sort", "message"),
    [
        (
            None,
            "duration",
            "was given for a list sorted by 'created_at,id desc', not 'duration,created_at,id desc'",
        ),
        (None, "started_at", "was given for another sort order; ask for the first page again"),
        ("~not base64!", "", "is not one this server gave out"),
        (_keyset_token("created_at,id desc", 7, 1), "", "is not one this server gave out"),
        (_keyset_token("created_at,id desc", "yesterday", 1), "", "is not one this server gave out"),
        (_keyset_token("created_at,id desc", "2026-01-01T00:00:00+00:00", "1"), "", "is not one this server"),
        (
            _keyset_token("created_at,id desc", "2026-01-01T00:00:00+00:00"),
            "",
            "is not one this server gave out",
        ),
        (_keyset_token("created_at,id desc", "2026-01-01T00:00:00+00:00", 10**30), "", "not one"),
        (
            _keyset_token("duration,created_at,id desc", float("nan"), "2026-01-01T00:00:00Z", 1),
            "duration",
            "not one",
        ),
        (_keyset_token("name,created_at,id desc", "a\x00b", "2026-01-01T00:00:00Z", 1), "name", "not one"),
    ],
    ids=[
        "other-sort",
        "unseekable-sort",
        "not-base64",
        "time-not-text",
        "bad-time",
        "id-not-number",
        "short",
        "huge-id",
        "nan",
        "nul",
    ],
)
def test_keyset_tokens_are_checked(tmp_path, token, sort, message) -> None:
    # on PostgreSQL: it is the one that would fail on values SQLite lets pass
    with (
        fresh_database("postgres", tmp_path) as url,
        running_admin(tmp_path, url, workers=0) as (_, admin, _s),
    ):
        launch(admin, "one", x=1)
        launch(admin, "one", x=2)
        scope = common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN)
        first = admin.ListExecutions(common_pb2.ResourceListRequest(id=scope, limit=1))
        request = common_pb2.ResourceListRequest(id=scope, limit=1, token=token or first.token)
        if sort:
            request.sort_by.CopyFrom(common_pb2.Sort(key=sort, direction=common_pb2.Sort.DESCENDING))
        with pytest.raises(grpc.RpcError) as refused:
            admin.ListExecutions(request)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert message in refused.value.details(), refused.value.details()
        assert f"token {request.token!r}" in refused.value.details()


def test_counts_per_phase_read_the_index_alone(tmp_path, database_url) -> None:
    with running_admin(tmp_path, database_url, workers=0) as (app, admin, _):
        launch(admin, "one", x=1)
        _many_executions(app)
        if not app.db.is_sqlite:
            # As autovacuum leaves a table that has settled: its visibility map lets index-only scans skip rows.
            with app.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(sqlalchemy.text("VACUUM ANALYZE executions"))
        with statements(app) as sent:
            counts = app.services.watching.phase_counts(PROJECT, DOMAIN)
        assert sum(counts.values()) == LAUNCH_PLANS * PER_PLAN + 1
        (query,) = [s for s in of_the_call(sent, "FROM executions") if "FROM executions" in s[0]]
        plan = _explain(app, *query)
        assert "ix_executions_project_domain_phase_state_created_at_id" in plan, plan
        covered = "COVERING INDEX" in plan if app.db.is_sqlite else "Index Only Scan" in plan
        assert covered, f"no table rows are read: {plan}"


def _many_executions(app: AdminApp) -> None:
    """``LAUNCH_PLANS`` launch plans (copies of a registered one) with ``PER_PLAN`` executions each, analysed."""
    engine = app.db.engine
    plans, executions = models.LaunchPlan.__table__, models.Execution.__table__
    with engine.begin() as connection:
        plan = dict(connection.execute(sqlalchemy.select(plans)).mappings().first() or {})
        row = dict(connection.execute(sqlalchemy.select(executions)).mappings().first() or {})
        plan.pop("id"), row.pop("id")
        connection.execute(
            plans.insert(), [{**plan, "name": f"plan-{n}", "version": "v"} for n in range(LAUNCH_PLANS)]
        )
        named = dict(connection.execute(sqlalchemy.select(plans.c.name, plans.c.id)).all())
        ids = [named[f"plan-{n}"] for n in range(LAUNCH_PLANS)]
        start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
        connection.execute(
            executions.insert(),
            [
                {
                    **row,
                    "name": f"e{n}-{i}",
                    "launch_plan_id": plan_id,
                    "created_at": start + datetime.timedelta(seconds=n * PER_PLAN + i),
                }
                for n, plan_id in enumerate(ids)
                for i in range(PER_PLAN)
            ],
        )
        connection.execute(sqlalchemy.text("ANALYZE"))


def _explain(app: AdminApp, statement: str, parameters: Any) -> str:
    """The plan the database makes for ``statement`` with ``parameters``."""
    sqlite = app.db.is_sqlite
    with app.db.engine.connect() as connection:
        cursor = connection.connection.cursor()
        cursor.execute(("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + statement, parameters)
        return "\n".join(str(line) for line in cursor.fetchall())
