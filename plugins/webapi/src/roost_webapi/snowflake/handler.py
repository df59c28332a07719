"""The Snowflake handler: asynchronous queries on the remote-job machinery with snowflake-connector-python.

``create`` logs in with the engine's credentials (a key pair, as flytekit's agent, or a password: see
:class:`~roost_webapi.settings.SnowflakeSettings`), submits the query with ``execute_async`` (inputs bound
by the connector, ``%(name)s``) and keeps the query id, with the account, user, database, schema and warehouse
of the task's ``config``, as the plugin state. The status cache asks Snowflake for the query's status; a
finished query's rows are read back (``RESULT_SCAN`` through the connector) and written as parquet. Abort
runs ``SYSTEM$CANCEL_QUERY``. One connection per task config is shared by every query that uses it, and none
holds a thread while its query runs.

Failures: a statement Snowflake rejects (syntax, a missing object, a type it cannot bind) is a USER error
naming the service's message and the query; a refused login, a network failure or a server error fails the
call, retried until ``max_system_failures``.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flyteidl.core import literals_pb2

from roost_core.handler import TaskContext, Transition
from roost_core.remote import JobMeta, RemoteJobHandler, RemoteJobPlugin, UserError, attempt_job_id
from roost_webapi.results import ResultTypeError, declared_type, write_results
from roost_webapi.secrets import read_secret
from roost_webapi.settings import SnowflakeSettings
from roost_webapi.values import UnsupportedInputError, input_values

if TYPE_CHECKING:
    from snowflake.connector import SnowflakeConnection

__all__ = ["SnowflakePlugin", "SnowflakeStatus", "snowflake_handler"]

CONFIG_KEYS = ("user", "account", "database", "schema", "warehouse")
_TEMPLATE_INPUT = re.compile(r"\{\{\s*[.$]inputs\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}", re.IGNORECASE)
_RUNNING = frozenset(
    {"RUNNING", "RESUMING_WAREHOUSE", "QUEUED", "QUEUED_REPARING_WAREHOUSE", "BLOCKED", "NO_DATA"}
)
_FAILED = frozenset({"FAILED_WITH_ERROR", "FAILED_WITH_INCIDENT", "ABORTED", "ABORTING", "DISCONNECTED"})


@dataclass(frozen=True)
class SnowflakeStatus:
    """A query's status as Snowflake reports it, and the error of a failed one."""

    query_id: str
    status: str
    error: str = ""


class SnowflakeHandler(RemoteJobHandler[SnowflakeStatus]):
    """The remote-job handler that also logs out of Snowflake when the engine closes it."""

    plugin: SnowflakePlugin

    def close(self) -> None:
        """Stop watching, then close the shared connections."""
        super().close()
        self.plugin.close()


def snowflake_handler(settings: SnowflakeSettings) -> RemoteJobHandler[SnowflakeStatus]:
    """The handler for ``snowflake`` tasks."""
    return SnowflakeHandler(SnowflakePlugin(settings), settings)


def query_text(ctx: TaskContext) -> str:
    """The task's query, ``{{ .inputs.x }}`` turned into the connector's parameter ``%(x)s``."""
    return _TEMPLATE_INPUT.sub(lambda m: f"%({m.group(1)})s", ctx.task.sql.statement)


class SnowflakePlugin(RemoteJobPlugin[SnowflakeStatus]):
    """execute_async / query status / SYSTEM$CANCEL_QUERY for one Snowflake endpoint and credentials."""

    name = "snowflake"

    def __init__(self, settings: SnowflakeSettings) -> None:
        self.settings = settings
        self._connections: dict[tuple[str, ...], SnowflakeConnection] = {}
        self._locks: dict[tuple[str, ...], threading.Lock] = {}
        self._lock = threading.Lock()

    def _key_lock(self, key: tuple[str, ...]) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(key, threading.Lock())

    def _connect(self, where: JobMeta) -> SnowflakeConnection:
        import snowflake.connector

        settings = self.settings
        options: dict[str, Any] = {
            "user": where["user"],
            "account": where["account"],
            "database": where["database"],
            "schema": where["schema"],
            "warehouse": where["warehouse"],
            "login_timeout": settings.login_timeout,
            "network_timeout": settings.network_timeout,
            # the engine retries within its failure budget; the connector must not retry for minutes
            "socket_timeout": settings.network_timeout,
            "client_session_keep_alive": False,
        }
        if settings.host:
            options.update(host=settings.host, port=settings.port, protocol=settings.protocol)
        if settings.authenticator == "password":
            options["password"] = read_secret(settings.password_secret, settings.secrets)
        else:
            options["private_key"] = self._private_key()
        return snowflake.connector.connect(**options)

    def _private_key(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        settings = self.settings
        pem = read_secret(settings.private_key_secret, settings.secrets).strip().encode()
        passphrase = (
            read_secret(settings.private_key_passphrase_secret, settings.secrets).encode()
            if settings.private_key_passphrase_secret
            else None
        )
        try:
            key = serialization.load_pem_private_key(pem, password=passphrase)
        except (ValueError, TypeError) as exc:
            # the key's text is never shown: only which secret failed and why
            raise ValueError(
                f"secret {settings.private_key_secret!r} is not a PEM private key: {exc}"
            ) from None
        return key.private_bytes(
            encoding=serialization.Encoding.DER,
            format=serialization.PrivateFormat.PKCS8,
            encryption_algorithm=serialization.NoEncryption(),
        )

    def _with_connection(self, where: JobMeta, call: Any) -> Any:
        """Run ``call(connection)`` on the shared connection for ``where`` (reconnecting once if it was closed)."""
        import snowflake.connector

        key = tuple(str(where[k]) for k in CONFIG_KEYS)
        with self._key_lock(key):
            for attempt in (0, 1):
                connection = self._connections.get(key)
                if connection is None or connection.is_closed():
                    connection = self._connections[key] = self._connect(where)
                try:
                    return call(connection)
                except (
                    snowflake.connector.errors.OperationalError,
                    snowflake.connector.errors.InterfaceError,
                ):
                    # a dropped session: log in again once, then let the machinery retry
                    self._connections.pop(key, None)
                    if attempt:
                        raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close the shared connections."""
        with self._lock:
            connections, self._connections = list(self._connections.values()), {}
        for connection in connections:
            connection.close()

    def create(self, ctx: TaskContext, inputs: literals_pb2.LiteralMap) -> JobMeta:
        """Submit the query asynchronously, unless this attempt already did (its record in the blob store says
        so: Snowflake has no idempotency key, and the engine may call again with the state from before); the
        meta finds the query again (no secret in it)."""
        import snowflake.connector

        record = ctx.storage.join(
            ctx.raw_output_prefix, f"snowflake-{attempt_job_id(ctx.task_execution_id)}.json"
        )
        if ctx.storage.exists(record):
            kept: dict[str, Any] = json.loads(ctx.storage.read(record))
            return kept
        config = dict(ctx.task.config)
        missing = [k for k in CONFIG_KEYS if not config.get(k)]
        if missing:
            raise UserError(f"the task's config lacks {', '.join(missing)}", code="SnowflakeBadTask")
        where = {k: config[k] for k in CONFIG_KEYS}
        query = query_text(ctx)
        try:
            values = input_values(inputs, ctx.task.interface.inputs.variables)
        except UnsupportedInputError as exc:
            raise UserError(f"{exc}; query: {query}", code="SnowflakeBadInput") from None
        parameters = {name: value for name, (_, value) in values.items()} or None

        def submit(connection: SnowflakeConnection) -> str:
            cursor = connection.cursor()
            try:
                cursor.execute_async(query, parameters)
                return str(cursor.sfqid)
            finally:
                cursor.close()

        try:
            query_id = self._with_connection(where, submit)
        except snowflake.connector.errors.ProgrammingError as exc:
            raise UserError(
                f"Snowflake rejected the query: {_message(exc)}; query: {query}",
                code="SnowflakeQueryRejected",
            ) from None
        meta = {"id": query_id, **where}
        ctx.storage.write(record, json.dumps(meta, sort_keys=True).encode())
        return meta

    def get(self, meta: JobMeta) -> SnowflakeStatus:
        """The query's status; a failed query's error message."""
        import snowflake.connector

        def ask(connection: SnowflakeConnection) -> SnowflakeStatus:
            status = connection.get_query_status(meta["id"])
            error = ""
            if status.name in _FAILED:
                try:
                    connection.get_query_status_throw_if_error(meta["id"])
                except snowflake.connector.errors.ProgrammingError as exc:
                    error = _message(exc)
            return SnowflakeStatus(meta["id"], status.name, error)

        result: SnowflakeStatus = self._with_connection(meta, ask)
        return result

    def delete(self, meta: JobMeta) -> None:
        """``SYSTEM$CANCEL_QUERY``; a query that already ended is fine."""

        def cancel(connection: SnowflakeConnection) -> None:
            cursor = connection.cursor()
            try:
                cursor.execute("SELECT SYSTEM$CANCEL_QUERY(%(id)s)", {"id": meta["id"]})
                cursor.fetchall()
            finally:
                cursor.close()

        self._with_connection(meta, cancel)

    def status(self, ctx: TaskContext, resource: SnowflakeStatus) -> Transition:
        """Running / succeeded / failed; a finished query's rows become the ``results`` output."""
        if resource.status in _RUNNING:
            return Transition.running(reason=f"Snowflake query {resource.query_id} {resource.status.lower()}")
        query = query_text(ctx)
        if resource.status in _FAILED:
            return Transition.failure(
                "SnowflakeQueryFailed",
                f"Snowflake query failed ({resource.status}): {resource.error or 'no message'}; query: {query}",
                retryable=False,
            )
        if resource.status != "SUCCESS":
            return Transition.running(reason=f"Snowflake query {resource.query_id}: {resource.status}")
        if declared_type(ctx) is None:
            ctx.write_outputs(literals_pb2.LiteralMap())
            return Transition.success()
        where = {k: ctx.task.config[k] for k in CONFIG_KEYS}

        # The one remote read outside get(): the rows of a finished query, once.
        def fetch(connection: SnowflakeConnection) -> Any:
            import pyarrow  # type: ignore[import-untyped]

            cursor = connection.cursor()
            try:
                cursor.get_results_from_sfqid(resource.query_id)
                table = cursor.fetch_arrow_all()
                if table is None:  # no rows: the connector gives no table, only the description
                    names = [column.name for column in cursor.description or []]
                    table = pyarrow.table({name: pyarrow.array([], pyarrow.string()) for name in names})
                return table
            finally:
                cursor.close()

        table = self._with_connection(where, fetch)
        try:
            write_results(ctx, table.to_batches(), table.schema)
        except ResultTypeError as exc:
            raise UserError(
                f"the result cannot be the task's output: {exc}; query: {query}", code="SnowflakeResultType"
            ) from None
        return Transition.success()


def _message(exc: Any) -> str:
    """The connector's text: the error code, SQL state and Snowflake's message."""
    return " ".join(str(exc).split())
