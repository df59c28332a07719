"""A Trino coordinator for tests: Trino's client REST protocol in front of DuckDB.

What a client sees is what a Trino coordinator does (the protocol of ``/v1/statement``):

- ``POST /v1/statement`` with the SQL text as body and ``X-Trino-User`` (and ``X-Trino-Catalog``,
  ``X-Trino-Schema``, ``X-Trino-Prepared-Statement``, ...) returns the query's id, ``infoUri`` and a
  ``nextUri``; the query is ``QUEUED``;
- ``GET nextUri`` long-polls (up to ``maxWait``, default 1s) and moves the query on: ``QUEUED`` → ``RUNNING`` →
  the result in pages of ``page_rows`` rows, each with the next ``nextUri`` → ``FINISHED`` without one. Asking
  for the current token again returns the same page (a client that lost a response retries), any other token
  is refused;
- ``DELETE nextUri`` cancels the query (``USER_CANCELED``), answering 204;
- failures are ``error`` objects with ``errorName``, ``errorCode``, ``errorType`` and ``message``; prepared
  statements come and go with ``X-Trino-Added-Prepare`` / ``X-Trino-Deallocated-Prepare``;
- ``GET /v1/query/{id}`` and ``GET /v1/info`` answer as the coordinator's REST API does (the parts tests use).

Tests steer it: ``submissions`` counts posted statements, ``queued_seconds`` and ``run_seconds`` slow queries
down, :meth:`fail_next_queries` makes queries fail (``INTERNAL_ERROR`` by default), :meth:`refuse_requests`
answers HTTP errors (an overloaded coordinator or a proxy in the way), and ``users`` requires HTTP basic auth.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime
import itertools
import json
import secrets
import ssl
import threading
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from roost_presto.testing.sql import (
    USER_CANCELED,
    Catalogs,
    Outcome,
    TrinoError,
    internal_error,
    run_statement,
)

__all__ = ["QueryRecord", "TrinoTestServer"]

VERSION = "476-roost-test"
"""What ``/v1/info`` reports as the coordinator's version."""


@dataclasses.dataclass
class QueryRecord:
    """One query the server was sent, as tests inspect it."""

    id: str
    sql: str
    user: str
    catalog: str | None
    schema: str | None
    headers: dict[str, str]
    state: str = "QUEUED"
    created: float = dataclasses.field(default_factory=time.monotonic)
    started: float | None = None
    """When it left the queue."""
    executed: float | None = None
    """When its result was ready."""
    ended: float | None = None
    """When the client had its last page (or it failed, or was cancelled)."""
    error: TrinoError | None = None
    cancelled: bool = False

    @property
    def query_seconds(self) -> float | None:
        """The server's own time for the query: from submission to its result being ready."""
        return None if self.executed is None else self.executed - self.created


class _Query:
    """A query's protocol state; guarded by its condition."""

    def __init__(self, record: QueryRecord, prepared: dict[str, str]) -> None:
        self.record = record
        self.prepared = prepared
        self.slug = "y" + secrets.token_hex(16)
        self.cond = threading.Condition()
        self.cancel = threading.Event()
        self.outcome: Outcome | None = None
        self.token = 0
        """The token of the last response sent."""
        self.last: tuple[int, bytes, dict[str, str]] | None = None
        self.last_final = False
        """Whether the last response ended the query (it had no ``nextUri``)."""
        self.page = 0
        self.done = False


class TrinoTestServer:
    """A Trino protocol server on DuckDB, started with :meth:`start` (or as a context manager).

    ``catalogs`` are the Trino catalogs there are (``memory`` always; each has a ``default`` schema);
    ``page_rows`` rows go in each result page; queries stay ``queued_seconds`` in the queue and take at least
    ``run_seconds`` to run; ``workers`` queries run at once (others wait in the queue, as on a busy
    cluster); ``users`` (name → password) turns on HTTP basic authentication; ``ssl_context`` serves HTTPS.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        catalogs: Sequence[str] = ("memory",),
        page_rows: int = 2,
        queued_seconds: float = 0.05,
        run_seconds: float = 0.0,
        workers: int = 8,
        max_wait: float = 1.0,
        users: Mapping[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if page_rows < 1:
            raise ValueError(f"page_rows must be at least 1, got {page_rows}")
        self.page_rows = page_rows
        self.queued_seconds = queued_seconds
        self.run_seconds = run_seconds
        self.max_wait = max_wait
        self.users = dict(users) if users is not None else None
        self._catalogs = Catalogs(catalogs)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="trino-test-query")
        self._lock = threading.Lock()
        self._queries: dict[str, _Query] = {}
        self._sequence = itertools.count()
        self._failures: list[TrinoError] = []
        self._refusals: list[int] = []
        self._http = ThreadingHTTPServer((host, port), _Handler)
        self._http.daemon_threads = True
        self._http.block_on_close = False
        self._http.trino = self  # type: ignore[attr-defined]
        if ssl_context is not None:
            self._http.socket = ssl_context.wrap_socket(self._http.socket, server_side=True)
        self._scheme = "https" if ssl_context is not None else "http"
        self._thread: threading.Thread | None = None
        self._started = time.monotonic()

    # lifecycle

    @property
    def host(self) -> str:
        """The address it listens on."""
        return str(self._http.server_address[0])

    @property
    def port(self) -> int:
        """The port it listens on (the one the OS chose when ``port`` was 0)."""
        return int(self._http.server_address[1])

    @property
    def http_scheme(self) -> str:
        """``http``, or ``https`` with an SSL context."""
        return self._scheme

    @property
    def url(self) -> str:
        """``http://host:port``."""
        return f"{self._scheme}://{self.host}:{self.port}"

    def start(self) -> TrinoTestServer:
        """Serve on a background thread."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._http.serve_forever, name="trino-test-http", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cancel running queries and close the database."""
        if self._thread is not None:
            self._http.shutdown()
            self._thread = None
        self._http.server_close()
        with self._lock:
            queries = list(self._queries.values())
        for query in queries:
            query.cancel.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._catalogs.close()

    def __enter__(self) -> TrinoTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # what tests use

    def execute(self, sql: str, *, catalog: str = "memory", schema: str = "default") -> list[list[Any]]:
        """Run Trino SQL directly (set-up: create and fill tables); returns the rows as Trino encodes them.
        Not counted as a submission."""
        try:
            outcome = run_statement(self._catalogs, sql, catalog=catalog, schema=schema, prepared={})
        except TrinoError as exc:
            raise RuntimeError(f"{exc} in {sql!r}") from None
        return outcome.rows

    @property
    def queries(self) -> list[QueryRecord]:
        """Every query submitted, oldest first."""
        with self._lock:
            return [q.record for q in self._queries.values()]

    def query(self, query_id: str) -> QueryRecord:
        """One query by id (KeyError if unknown)."""
        with self._lock:
            return self._queries[query_id].record

    @property
    def submissions(self) -> int:
        """How many statements were posted to ``/v1/statement``."""
        with self._lock:
            return len(self._queries)

    def submitted(self, text: str) -> int:
        """How many posted statements contain ``text``."""
        return sum(text in record.sql for record in self.queries)

    def fail_next_queries(self, count: int = 1, error: TrinoError | None = None) -> None:
        """Make the next ``count`` queries fail when they run, with ``error`` (``GENERIC_INTERNAL_ERROR``)."""
        with self._lock:
            self._failures.extend([error or internal_error("Injected failure: worker node lost")] * count)

    def refuse_requests(self, count: int = 1, status: int = 503) -> None:
        """Answer the next ``count`` HTTP requests with ``status`` instead of serving them."""
        with self._lock:
            self._refusals.extend([status] * count)

    # the protocol

    def _refusal(self) -> int | None:
        with self._lock:
            return self._refusals.pop(0) if self._refusals else None

    def _submit(self, sql: str, headers: Mapping[str, str]) -> _Query:
        now = datetime.datetime.now(datetime.UTC)
        with self._lock:
            number = next(self._sequence)
            query_id = f"{now:%Y%m%d_%H%M%S}_{number:05d}_roost"
            record = QueryRecord(
                id=query_id,
                sql=sql,
                user=headers.get("x-trino-user", ""),
                catalog=headers.get("x-trino-catalog") or None,
                schema=headers.get("x-trino-schema") or None,
                headers=dict(headers),
            )
            query = _Query(record, _prepared_statements(headers.get("x-trino-prepared-statement", "")))
            self._queries[query_id] = query
            failure = self._failures.pop(0) if self._failures else None
        self._pool.submit(self._run, query, failure)
        return query

    def _run(self, query: _Query, failure: TrinoError | None) -> None:
        record = query.record
        if query.cancel.wait(self.queued_seconds):
            return
        with query.cond:
            record.started = time.monotonic()
            record.state = "RUNNING"
            query.cond.notify_all()
        if query.cancel.wait(self.run_seconds):
            return
        outcome: Outcome | None = None
        error = failure
        if error is None:
            try:
                outcome = run_statement(
                    self._catalogs,
                    record.sql,
                    catalog=record.catalog,
                    schema=record.schema,
                    prepared=query.prepared,
                    cancelled=query.cancel.is_set,
                )
            except TrinoError as exc:
                error = exc
            except Exception as exc:  # the stand-in's own bug: reported as Trino reports its own
                error = internal_error(f"{type(exc).__name__}: {exc}")
        with query.cond:
            if record.cancelled:
                return
            record.executed = time.monotonic()
            if error is not None:
                record.error, record.state, record.ended = error, "FAILED", record.executed
                query.done = True
            else:
                query.outcome = outcome
            query.cond.notify_all()

    def _cancel(self, query: _Query) -> None:
        with query.cond:
            record = query.record
            query.cancel.set()
            if record.state not in ("FINISHED", "FAILED"):
                record.cancelled = True
                record.error, record.state, record.ended = USER_CANCELED, "FAILED", time.monotonic()
                query.done = True
            query.cond.notify_all()

    def _results(self, query: _Query, token: int, max_wait: float) -> tuple[int, bytes, dict[str, str]]:
        """The response for ``token``: the last one again, or the next one (waiting up to ``max_wait``)."""
        with query.cond:
            if query.last is not None and token == query.token:
                return query.last
            if token != query.token + 1 or query.last_final:
                return _text(HTTPStatus.GONE, f"Invalid token {token} for query {query.record.id}")
            state = query.record.state
            query.cond.wait_for(
                lambda: query.done or query.outcome is not None or query.record.state != state,
                timeout=max_wait,
            )
            query.token = token
            query.last = self._response(query)
            return query.last

    def _response(self, query: _Query) -> tuple[int, bytes, dict[str, str]]:
        record = query.record
        body = self._status(query)
        headers: dict[str, str] = {}
        outcome = query.outcome
        if record.error is not None:
            body["error"] = record.error.payload(record.id)
            query.done = True
        elif outcome is None:
            body["nextUri"] = self._next_uri(query)
        elif outcome.columns is None:
            body["updateType"] = outcome.update_type
            if outcome.added_prepare is not None:
                name, statement = outcome.added_prepare
                headers["X-Trino-Added-Prepare"] = f"{name}={urllib.parse.quote_plus(statement)}"
            if outcome.deallocated_prepare is not None:
                headers["X-Trino-Deallocated-Prepare"] = outcome.deallocated_prepare
            self._finish(query, body)
        else:
            body["columns"] = outcome.columns
            start = query.page * self.page_rows
            rows = outcome.rows[start : start + self.page_rows]
            if rows:
                body["data"] = rows
                query.page += 1
                body["nextUri"] = self._next_uri(query)
            else:
                self._finish(query, body)
        query.last_final = "nextUri" not in body
        return HTTPStatus.OK, json.dumps(body).encode(), headers

    def _finish(self, query: _Query, body: dict[str, Any]) -> None:
        record = query.record
        record.state, record.ended = "FINISHED", time.monotonic()
        body["stats"] = self._stats(query)
        query.done = True

    def _next_uri(self, query: _Query) -> str:
        phase = "queued" if query.record.state == "QUEUED" else "executing"
        return f"{self.url}/v1/statement/{phase}/{query.record.id}/{query.slug}/{query.token + 1}"

    def _status(self, query: _Query) -> dict[str, Any]:
        record = query.record
        return {
            "id": record.id,
            "infoUri": f"{self.url}/ui/query.html?{record.id}",
            "stats": self._stats(query),
            "warnings": [],
        }

    def _stats(self, query: _Query) -> dict[str, Any]:
        record = query.record
        now = time.monotonic()
        started = record.started or now
        rows = len(query.outcome.rows) if query.outcome is not None else 0
        return {
            "state": record.state,
            "queued": record.state == "QUEUED",
            "scheduled": record.started is not None,
            "nodes": 1,
            "totalSplits": 1,
            "queuedSplits": 0 if record.started else 1,
            "runningSplits": 1 if record.state == "RUNNING" and query.outcome is None else 0,
            "completedSplits": 1 if query.outcome is not None else 0,
            "cpuTimeMillis": 0,
            "wallTimeMillis": int(((record.executed or now) - started) * 1000),
            "queuedTimeMillis": int((started - record.created) * 1000),
            "elapsedTimeMillis": int(((record.ended or now) - record.created) * 1000),
            "processedRows": rows,
            "processedBytes": 0,
            "physicalInputBytes": 0,
            "peakMemoryBytes": 0,
            "spilledBytes": 0,
        }

    def _query_info(self, query: _Query) -> dict[str, Any]:
        record = query.record
        info: dict[str, Any] = {
            "queryId": record.id,
            "state": record.state,
            "query": record.sql,
            "session": {"user": record.user, "catalog": record.catalog, "schema": record.schema},
            "self": f"{self.url}/v1/query/{record.id}",
        }
        if record.error is not None:
            info["errorCode"] = {
                "code": record.error.code,
                "name": record.error.name,
                "type": record.error.type,
            }
            info["failureInfo"] = record.error.payload(record.id)["failureInfo"]
        return info

    def _find(self, query_id: str, slug: str | None) -> _Query | None:
        with self._lock:
            query = self._queries.get(query_id)
        if query is None or (slug is not None and slug != query.slug):
            return None
        return query


def _prepared_statements(header: str) -> dict[str, str]:
    statements: dict[str, str] = {}
    for item in header.split(","):
        name, sep, value = item.strip().partition("=")
        if sep:
            statements[name] = urllib.parse.unquote_plus(value)
    return statements


def _text(status: HTTPStatus, message: str) -> tuple[int, bytes, dict[str, str]]:
    return status, message.encode(), {"Content-Type": "text/plain"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Trino"

    @property
    def trino(self) -> TrinoTestServer:
        return self.server.trino  # type: ignore[attr-defined,no-any-return]

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read the server's records, not its access log."""

    def _send(self, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        headers = dict(headers or {})
        headers.setdefault("Content-Type", "application/json")
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _gate(self) -> bool:
        """Refusals and authentication; True when the request may go on."""
        refused = self.trino._refusal()
        if refused is not None:
            self._send(refused, f"{HTTPStatus(refused).phrase}".encode(), {"Content-Type": "text/plain"})
            return False
        users = self.trino.users
        if users is None:
            return True
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, password = "", ""
            if user in users and secrets.compare_digest(users[user], password):
                return True
        self._send(
            HTTPStatus.UNAUTHORIZED,
            b"Unauthorized",
            {"Content-Type": "text/plain", "WWW-Authenticate": 'Basic realm="Trino"'},
        )
        return False

    def _path(self) -> tuple[list[str], dict[str, list[str]]]:
        url = urllib.parse.urlsplit(self.path)
        return [p for p in url.path.split("/") if p], urllib.parse.parse_qs(url.query)

    def do_POST(self) -> None:
        """``POST /v1/statement``: submit a query."""
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if not self._gate():
            return
        parts, _ = self._path()
        if parts != ["v1", "statement"]:
            self._send(*_text(HTTPStatus.NOT_FOUND, "Not Found"))
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        if not headers.get("x-trino-user"):
            self._send(*_text(HTTPStatus.BAD_REQUEST, "Error: User must be set"))
            return
        sql = body.decode("utf-8")
        if not sql.strip():
            self._send(*_text(HTTPStatus.BAD_REQUEST, "SQL statement is empty"))
            return
        trino = self.trino
        query = trino._submit(sql, headers)
        with query.cond:
            body_json = trino._status(query)
            body_json["nextUri"] = trino._next_uri(query)
            query.last = (HTTPStatus.OK, json.dumps(body_json).encode(), {})
            response = query.last
        self._send(*response)

    def do_GET(self) -> None:
        """Follow a ``nextUri``; ``/v1/query/{id}``; ``/v1/info``."""
        if not self._gate():
            return
        parts, params = self._path()
        trino = self.trino
        if parts == ["v1", "info"]:
            info = {
                "nodeVersion": {"version": VERSION},
                "environment": "test",
                "coordinator": True,
                "starting": False,
                "uptime": f"{time.monotonic() - trino._started:.2f}s",
            }
            self._send(HTTPStatus.OK, json.dumps(info).encode())
            return
        if len(parts) == 3 and parts[:2] == ["v1", "query"]:
            query = trino._find(parts[2], None)
            if query is None:
                self._send(*_text(HTTPStatus.NOT_FOUND, f"Query not found: {parts[2]}"))
                return
            with query.cond:
                info_body = json.dumps(trino._query_info(query)).encode()
            self._send(HTTPStatus.OK, info_body)
            return
        statement = self._statement(parts)
        if statement is None:
            self._send(*_text(HTTPStatus.NOT_FOUND, "Not Found"))
            return
        query, token = statement
        max_wait = trino.max_wait
        if "maxWait" in params:
            max_wait = min(_duration(params["maxWait"][0], max_wait), 10.0)
        self._send(*trino._results(query, token, max_wait))

    def do_DELETE(self) -> None:
        """Cancel a query by its ``nextUri``, or ``/v1/query/{id}``."""
        if not self._gate():
            return
        parts, _ = self._path()
        if len(parts) == 3 and parts[:2] == ["v1", "query"]:
            query = self.trino._find(parts[2], None)
        else:
            statement = self._statement(parts)
            query = statement[0] if statement else None
        if query is None:
            self._send(*_text(HTTPStatus.NOT_FOUND, "Query not found"))
            return
        self.trino._cancel(query)
        self._send(HTTPStatus.NO_CONTENT, b"", {"Content-Type": "text/plain"})

    def _statement(self, parts: list[str]) -> tuple[_Query, int] | None:
        if len(parts) != 6 or parts[:2] != ["v1", "statement"] or parts[2] not in ("queued", "executing"):
            return None
        query = self.trino._find(parts[3], parts[4])
        if query is None or not parts[5].isdigit():
            return None
        return query, int(parts[5])


def _duration(text: str, default: float) -> float:
    """Trino's duration strings (``1s``, ``500ms``, ``1.5m``)."""
    units = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
    for unit in sorted(units, key=len, reverse=True):
        if text.endswith(unit):
            try:
                return float(text[: -len(unit)]) * units[unit]
            except ValueError:
                return default
    return default
