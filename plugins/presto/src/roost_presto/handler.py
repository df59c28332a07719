"""The presto handler: Trino queries as remote jobs, on the trino client's protocol layer.

``create`` posts the statement (inputs bound as parameters by the client's own formatting, as
``cursor.execute(sql, params)`` binds them) and returns at once with the query id and first ``nextUri``.
``get`` runs on the remote-job machinery's status workers: it follows ``nextUri`` (each request long-polls
the coordinator), writes every page of rows as a parquet file into the blob store, and saves a cursor (the
next URI, pages so far) beside them after every response. Trino serves the current token again, so a
restarted engine (or another one) resumes from the cursor without submitting the query again and without
losing or repeating a page. ``delete`` cancels with ``DELETE nextUri``; ``status`` turns the latest state
into a transition: Trino's ``USER_ERROR`` is the user's failure (not retried), ``INTERNAL_ERROR``,
``INSUFFICIENT_RESOURCES`` and ``EXTERNAL`` the system's (retried), transport failures are retried by the
machinery within ``max_system_failures``.

No thread belongs to a query: the status workers (``workers``) serve every query of the handler.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import threading
import time
import urllib.parse
from collections.abc import Mapping
from typing import Any

import requests
import trino.auth
import trino.dbapi
from flyteidl.core import literals_pb2, types_pb2
from flyteidl.plugins import presto_pb2
from google.protobuf import json_format
from trino.client import ClientSession, TrinoRequest
from trino.exceptions import HttpError, TrinoQueryError

from roost_core.errors import ErrorKind
from roost_core.handler import TaskContext, TaskLog, Transition
from roost_core.remote import JobMeta, RemoteJobHandler, RemoteJobPlugin, UserError, attempt_job_id
from roost_core.storage import Storage
from roost_presto.query import TemplateError, parse_template
from roost_presto.results import ConversionError, check_declared, page_parquet
from roost_presto.settings import COORDINATOR_ENV, USER_ENV, TrinoSettings

__all__ = ["QueryFailure", "QueryStatus", "TrinoHandler", "TrinoPlugin"]

OUTPUT = "results"
_CURSOR = "cursor.json"
_RECORD = "query.json"
_RESULTS = "results"


@dataclasses.dataclass(frozen=True)
class QueryFailure:
    """Why a query failed: Trino's error (``kind`` ``trino``), a result that does not convert (``conversion``),
    or a query the coordinator no longer knows (``lost``)."""

    kind: str
    name: str
    type: str
    code: int
    message: str


@dataclasses.dataclass(frozen=True)
class QueryStatus:
    """What ``get`` saw of a query: small and comparable, so the machinery wakes the task when it changes."""

    query_id: str
    state: str
    pages: int
    rows: int
    done: bool
    failure: QueryFailure | None
    info_uri: str
    columns: tuple[tuple[str, str], ...] = ()
    """The result's columns: name and Trino raw type."""


@dataclasses.dataclass
class _Cursor:
    """How far a query's results were stored; saved as JSON beside them after every response."""

    next_uri: str | None
    state: str = "QUEUED"
    pages: int = 0
    rows: int = 0
    done: bool = False
    failure: QueryFailure | None = None
    columns: list[dict[str, Any]] | None = None

    def to_json(self) -> bytes:
        data = dataclasses.asdict(self)
        return json.dumps(data, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> _Cursor:
        data = json.loads(raw)
        failure = data.pop("failure", None)
        return cls(**data, failure=QueryFailure(**failure) if failure else None)


class TrinoPlugin(RemoteJobPlugin[QueryStatus]):
    """The four calls of a Trino query; one instance serves every attempt of the handler."""

    name = "presto"

    def __init__(self, settings: TrinoSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._storages: dict[str, Storage] = {}
        self._cursors: dict[str, _Cursor] = {}
        self._local = threading.local()

    # the storage of each query: bound by the handler from the attempt's context

    def bind(self, ctx: TaskContext) -> None:
        """Remember the blob store of the attempt's query (``get`` and ``delete`` have no context)."""
        meta = (ctx.state or {}).get("meta")
        if isinstance(meta, Mapping) and "id" in meta:
            with self._lock:
                self._storages[str(meta["id"])] = ctx.storage

    def forget(self, ctx: TaskContext) -> None:
        """Drop what was kept for the attempt's query."""
        meta = (ctx.state or {}).get("meta")
        if isinstance(meta, Mapping) and "id" in meta:
            with self._lock:
                self._storages.pop(str(meta["id"]), None)
                self._cursors.pop(str(meta["id"]), None)

    def _storage(self, meta: JobMeta) -> Storage:
        with self._lock:
            storage = self._storages.get(str(meta["id"]))
        if storage is None:
            raise RuntimeError(f"no blob store is bound to Trino query {meta['id']} yet")
        return storage

    # talking to the coordinator

    def _coordinator(self) -> urllib.parse.SplitResult:
        url = self.settings.coordinator or os.environ.get(COORDINATOR_ENV, "")
        if not url:
            raise UserError(
                "no Trino coordinator is configured: set engine.handlers.presto.coordinator, or "
                f"${COORDINATOR_ENV} for local runs",
                code="TrinoNotConfigured",
            )
        parts = urllib.parse.urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UserError(
                f"the Trino coordinator {url!r} is not an http(s)://host:port URL", code="TrinoNotConfigured"
            )
        return parts

    def _request(self, session: ClientSession | None = None) -> TrinoRequest:
        """A request of the trino client on this thread's HTTP session (connections are reused; headers are
        reset so that nothing of another query's session leaks into this one)."""
        url = self._coordinator()
        settings = self.settings
        http = getattr(self._local, "http", None)
        if http is None:
            http = self._local.http = requests.Session()
        http.headers.clear()
        http.headers.update(requests.utils.default_headers())
        http.auth = None
        http.verify = settings.verify
        auth: trino.auth.Authentication | None = None
        if settings.password is not None:
            if url.scheme == "http" and not settings.allow_insecure_auth:
                raise UserError(
                    f"credentials are configured for the Trino coordinator {url.geturl()}, which is plain HTTP; "
                    "use https, or set allow_insecure_auth for tests",
                    code="TrinoNotConfigured",
                )
            try:
                secret = settings.password.resolve()
            except LookupError as exc:
                raise UserError(
                    f"the Trino credentials cannot be read: {exc}", code="TrinoNotConfigured"
                ) from None
            auth = (
                trino.auth.JWTAuthentication(secret)
                if settings.auth == "jwt"
                else trino.auth.BasicAuthentication(self._user(), secret)
            )
        port = url.port or (443 if url.scheme == "https" else 8080)
        return TrinoRequest(
            url.hostname or "",
            port,
            session or ClientSession(user=self._user(), source=settings.source),
            http_session=http,
            http_scheme=url.scheme,
            auth=auth,
            max_attempts=1,  # the machinery retries, with its failure budget and without blocking a worker
            request_timeout=settings.request_timeout,
        )

    def _user(self) -> str:
        return self.settings.user or os.environ.get(USER_ENV, "") or "roost"

    # the four calls

    def create(self, ctx: TaskContext, inputs: literals_pb2.LiteralMap) -> JobMeta:
        """Submit the query, unless this attempt already did (its record in the blob store says so)."""
        storage = ctx.storage
        key = attempt_job_id(ctx.task_execution_id)
        spool = storage.join(ctx.raw_output_prefix, f"trino-{key}")
        record = storage.join(spool, _RECORD)
        if storage.exists(record):
            meta: dict[str, Any] = json.loads(storage.read(record))
            self._remember(meta, storage)
            return meta
        query = presto_query(ctx)
        try:
            bound = parse_template(query.statement, ctx.task.interface.inputs.variables)
        except TemplateError as exc:
            raise UserError(f"query_template: {exc}", code="TrinoBadTemplate") from None
        values = [_python_value(name, inputs) for name in bound.inputs]
        headers = {}
        if query.routing_group:
            headers[self.settings.routing_group_header] = query.routing_group
        session = ClientSession(
            user=self._user(),
            catalog=query.catalog or None,
            schema=query.schema or None,
            source=self.settings.source,
            client_tags=[*self.settings.client_tags, key],
            headers=headers,
        )
        request = self._request(session)
        sql = _bind(request, bound.statement, values)
        try:
            status = request.process(request.post(sql))
        except TrinoQueryError as exc:
            message = f"Trino refused the query with {exc.error_name} ({exc.error_type}): {exc.message}"
            if exc.error_type == "USER_ERROR":
                raise UserError(
                    f"{message}; query: {query.statement}", code=exc.error_name or "TrinoUserError"
                ) from None
            raise RuntimeError(f"{message}; query: {query.statement}") from None
        except HttpError as exc:
            raise RuntimeError(_http_failure(exc)) from None
        meta = {"id": status.id, "next_uri": status.next_uri, "info_uri": status.info_uri, "spool": spool}
        storage.write(record, json.dumps(meta, sort_keys=True).encode())
        self._remember(meta, storage)
        return meta

    def _remember(self, meta: Mapping[str, Any], storage: Storage) -> None:
        with self._lock:
            self._storages[str(meta["id"])] = storage

    def get(self, meta: JobMeta) -> QueryStatus:
        """Follow the query's ``nextUri`` for up to ``poll_budget`` seconds, storing pages as they come."""
        storage = self._storage(meta)
        cursor = self._cursor(meta, storage)
        deadline = time.monotonic() + self.settings.poll_budget
        request = self._request()
        while not cursor.done and cursor.next_uri:
            before = cursor.state
            response = request.get(_with_max_wait(cursor.next_uri, self.settings.long_poll))
            rows = self._advance(meta, storage, cursor, request, response)
            self._save(meta, storage, cursor)
            if cursor.done or (not rows and cursor.state == before) or time.monotonic() > deadline:
                break
        columns = tuple((c["name"], c["typeSignature"]["rawType"]) for c in cursor.columns or [])
        return QueryStatus(
            str(meta["id"]),
            cursor.state,
            cursor.pages,
            cursor.rows,
            cursor.done,
            cursor.failure,
            meta["info_uri"],
            columns,
        )

    def _advance(
        self,
        meta: JobMeta,
        storage: Storage,
        cursor: _Cursor,
        request: TrinoRequest,
        response: requests.Response,
    ) -> int:
        """Take one response into the cursor (writing its page); returns the rows it carried."""
        if response.status_code in (404, 410):
            cursor.done, cursor.state = True, "FAILED"
            cursor.failure = QueryFailure(
                "lost",
                "QUERY_LOST",
                "",
                response.status_code,
                f"the coordinator no longer knows the query (HTTP {response.status_code}: "
                f"{response.text.strip()[:200]}); it was abandoned, or the coordinator restarted",
            )
            return 0
        try:
            status = request.process(response)
        except TrinoQueryError as exc:
            cursor.done, cursor.state = True, "FAILED"
            cursor.failure = QueryFailure(
                "trino", exc.error_name or "", exc.error_type or "", exc.error_code or 0, exc.message
            )
            return 0
        except HttpError as exc:
            raise RuntimeError(_http_failure(exc)) from None
        if status.columns:
            cursor.columns = status.columns
        rows = status.rows if isinstance(status.rows, list) else []
        results = storage.join(str(meta["spool"]), _RESULTS)
        if rows:
            try:
                data = page_parquet(cursor.columns or [], rows)
            except ConversionError as exc:
                cursor.done, cursor.state = True, "FAILED"
                cursor.failure = QueryFailure("conversion", "RESULT_CONVERSION", "", 0, str(exc))
                return 0
            storage.write(storage.join(results, f"part-{cursor.pages:05d}.parquet"), data)
            cursor.pages += 1
            cursor.rows += len(rows)
        cursor.next_uri = status.next_uri
        cursor.state = str(status.stats.get("state", cursor.state))
        if status.next_uri is None:
            cursor.done = True
            if cursor.pages == 0:  # an empty result still has its columns
                storage.write(
                    storage.join(results, "part-00000.parquet"), page_parquet(cursor.columns or [], [])
                )
                cursor.pages = 1
        return len(rows)

    def _cursor(self, meta: JobMeta, storage: Storage) -> _Cursor:
        query_id = str(meta["id"])
        with self._lock:
            cursor = self._cursors.get(query_id)
        if cursor is not None:
            return cursor
        uri = storage.join(str(meta["spool"]), _CURSOR)
        cursor = (
            _Cursor.from_json(storage.read(uri)) if storage.exists(uri) else _Cursor(meta.get("next_uri"))
        )
        with self._lock:
            self._cursors[query_id] = cursor
        return cursor

    def _save(self, meta: JobMeta, storage: Storage, cursor: _Cursor) -> None:
        storage.write(storage.join(str(meta["spool"]), _CURSOR), cursor.to_json())

    def delete(self, meta: JobMeta) -> None:
        """Cancel the query with ``DELETE nextUri``; a query that ended, or that the coordinator forgot, is fine."""
        with self._lock:
            cursor = self._cursors.get(str(meta["id"]))
        if cursor is not None and cursor.done:
            return
        uri = (cursor.next_uri if cursor is not None else None) or meta.get("next_uri")
        if not uri:
            return
        response = self._request().delete(str(uri))
        if response.status_code not in (200, 204, 404, 410):
            raise RuntimeError(
                f"DELETE {uri} answered HTTP {response.status_code}: {response.text.strip()[:200]}"
            )

    def status(self, ctx: TaskContext, resource: QueryStatus) -> Transition:
        """The query's latest state as a transition; on success the output literal is written first."""
        logs = (TaskLog("Trino query", resource.info_uri),) if resource.info_uri else ()
        failure = resource.failure
        if failure is not None:
            statement = presto_query(ctx).statement
            if failure.kind == "conversion":
                raise UserError(
                    f"Trino query {resource.query_id}: the result cannot be stored as parquet: {failure.message}; "
                    f"query: {statement}",
                    code="TrinoResultConversion",
                )
            if failure.kind == "lost":
                return Transition.failure(
                    "TrinoQueryLost",
                    f"Trino query {resource.query_id}: {failure.message}; query: {statement}",
                    kind=ErrorKind.SYSTEM,
                    logs=logs,
                )
            message = (
                f"Trino query {resource.query_id} failed with {failure.name} ({failure.type}): "
                f"{failure.message}; query: {statement}"
            )
            if failure.type == "USER_ERROR":
                raise UserError(message, code=failure.name or "TrinoUserError")
            return Transition.failure(
                failure.name or "TrinoQueryFailed", message, kind=ErrorKind.SYSTEM, logs=logs
            )
        if resource.done:
            mismatch = _mismatch(ctx, resource)
            if mismatch is not None:
                raise UserError(
                    f"Trino query {resource.query_id}: the result does not fit the task's output type: {mismatch}; "
                    f"query: {presto_query(ctx).statement}",
                    code="TrinoResultType",
                )
            ctx.write_outputs(_outputs(ctx, resource))
            return Transition.success(logs=logs)
        reason = f"Trino query {resource.query_id} {resource.state.lower()}"
        if resource.rows:
            reason += f", {resource.rows} rows stored"
        if resource.state == "QUEUED":
            return Transition.queued(reason=reason)
        return Transition.running(reason=reason, version=resource.pages, logs=logs)

    def job_label(self, meta: JobMeta) -> str:
        """The Trino query id."""
        return f"(Trino query {meta['id']})" if "id" in meta else super().job_label(meta)


class TrinoHandler(RemoteJobHandler[QueryStatus]):
    """The remote-job handler of :class:`TrinoPlugin`; it hands the plugin each attempt's blob store, which
    ``get`` (on a status worker, without a context) writes the result pages to."""

    def __init__(self, settings: TrinoSettings) -> None:
        self.trino = TrinoPlugin(settings)
        super().__init__(self.trino, settings)

    def handle(self, ctx: TaskContext) -> Transition:
        """Bind the attempt's blob store to its query, then advance it (see :class:`RemoteJobHandler`)."""
        self.trino.bind(ctx)
        return super().handle(ctx)

    def abort(self, ctx: TaskContext) -> None:
        """Cancel the attempt's query."""
        self.trino.bind(ctx)
        super().abort(ctx)

    def finalize(self, ctx: TaskContext) -> None:
        """Stop watching the query and forget it."""
        super().finalize(ctx)
        self.trino.forget(ctx)


def presto_query(ctx: TaskContext) -> presto_pb2.PrestoQuery:
    """The task's ``PrestoQuery`` from ``TaskTemplate.custom``; a :class:`UserError` if it is not one."""
    query = presto_pb2.PrestoQuery()
    try:
        json_format.ParseDict(json_format.MessageToDict(ctx.task.custom), query)
    except json_format.ParseError as exc:
        raise UserError(
            f"the task's custom is not a flyteidl PrestoQuery: {exc}", code="TrinoBadTask"
        ) from None
    if not query.statement.strip():
        raise UserError("the task's PrestoQuery has no statement", code="TrinoBadTask")
    return query


def _python_value(name: str, inputs: literals_pb2.LiteralMap) -> Any:
    if name not in inputs.literals:
        raise UserError(f"query_template uses input {name!r}, which was not given", code="TrinoMissingInput")
    return _literal_value(name, inputs.literals[name])


def _literal_value(name: str, literal: literals_pb2.Literal) -> Any:
    kind = literal.WhichOneof("value")
    if kind == "collection":
        return [_literal_value(name, item) for item in literal.collection.literals]
    if kind == "map":
        return {key: _literal_value(name, item) for key, item in literal.map.literals.items()}
    if kind == "scalar":
        scalar = literal.scalar
        which = scalar.WhichOneof("value")
        if which == "none_type":
            return None
        if which == "primitive":
            primitive = scalar.primitive
            field = primitive.WhichOneof("value")
            if field == "datetime":
                return primitive.datetime.ToDatetime(tzinfo=datetime.UTC)
            if field == "duration":
                return primitive.duration.ToTimedelta()
            if field is not None:
                return getattr(primitive, field)
    raise UserError(
        f"input {name!r} is a {kind or 'empty'} literal that cannot be bound as a Trino query parameter "
        "(use int, float, str, bool, datetime, or lists and dicts of them)",
        code="TrinoUnsupportedInput",
    )


def _bind(request: TrinoRequest, statement: str, values: list[Any]) -> str:
    """The statement the trino client sends for ``cursor.execute(statement, values)`` on a current Trino:
    ``EXECUTE IMMEDIATE '...' USING ...``, each value formatted as a Trino literal by the client."""
    if not values:
        return statement
    connection = trino.dbapi.Connection(host="unused", user="unused", legacy_prepared_statements=False)
    cursor = trino.dbapi.Cursor(connection, request)
    try:
        # The client's own formatting of parameters (the same it uses in cursor.execute); the query object
        # it returns is not executed: create() must not wait for rows, which cursor.execute does.
        return str(cursor._execute_immediate_statement(statement, values).query)
    except trino.exceptions.NotSupportedError as exc:
        raise UserError(
            f"an input cannot be bound as a Trino query parameter: {exc}", code="TrinoUnsupportedInput"
        ) from None


def _with_max_wait(uri: str, seconds: float) -> str:
    """``uri`` asking the coordinator to answer within ``seconds`` (its ``maxWait`` parameter)."""
    parts = urllib.parse.urlsplit(uri)
    query = urllib.parse.parse_qsl(parts.query)
    query = [(k, v) for k, v in query if k != "maxWait"] + [("maxWait", f"{round(seconds * 1000)}ms")]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def _http_failure(exc: HttpError) -> str:
    text = str(exc)
    if text.startswith(("error 401", "error 403")):
        return f"the Trino coordinator refused the credentials ({text[:200]})"
    return f"the Trino coordinator answered {text[:300]}"


def _outputs(ctx: TaskContext, resource: QueryStatus) -> literals_pb2.LiteralMap:
    variables = ctx.task.interface.outputs.variables
    names = (
        [OUTPUT]
        if OUTPUT in variables
        else [n for n, v in variables.items() if v.type.HasField("structured_dataset_type")]
    )
    outputs = literals_pb2.LiteralMap()
    if not names:
        return outputs
    name = names[0]
    declared = variables[name].type.structured_dataset_type
    dataset_type = types_pb2.StructuredDatasetType()
    dataset_type.CopyFrom(declared)
    dataset_type.format = "parquet"
    meta = json.loads(ctx.storage.read(ctx.storage.join(_spool(ctx), _RECORD)))
    outputs.literals[name].scalar.structured_dataset.CopyFrom(
        literals_pb2.StructuredDataset(
            uri=ctx.storage.join(str(meta["spool"]), _RESULTS),
            metadata=literals_pb2.StructuredDatasetMetadata(structured_dataset_type=dataset_type),
        )
    )
    return outputs


def _mismatch(ctx: TaskContext, resource: QueryStatus) -> str | None:
    variables = ctx.task.interface.outputs.variables
    if OUTPUT not in variables:
        return None
    declared = [
        (c.name, c.literal_type.simple if c.literal_type.HasField("simple") else None)
        for c in variables[OUTPUT].type.structured_dataset_type.columns
    ]
    return check_declared(declared, resource.columns)


def _spool(ctx: TaskContext) -> str:
    return ctx.storage.join(ctx.raw_output_prefix, f"trino-{attempt_job_id(ctx.task_execution_id)}")
