"""The BigQuery handler: query jobs on the remote-job machinery with google-cloud-bigquery.

``create`` inserts a query job named after the attempt (``roost-<attempt id>``), so a second insert for the
same attempt (an engine that crashed before saving the job id) finds the first job instead of starting
another; the job id, project and location are the plugin state a restarted engine resumes from. The status
cache polls jobs.get; a finished job's rows are read back and written as parquet (the ``results`` output).
Abort calls jobs.cancel. Every API call has a timeout and no client-side retry: the machinery retries
within its failure budget, with backoff.

Failures: a query BigQuery rejects (syntax, a missing table, a denied permission, an invalid parameter) is
a USER error naming the service's message and the query; a server-side failure that BigQuery reports as
transient (``backendError``, ``internalError``, ``rateLimitExceeded``...) is a retryable SYSTEM error; an
unreachable service or rejected credentials fail calls, retried until ``max_system_failures``.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from typing import Any

from flyteidl.core import literals_pb2, types_pb2
from google.protobuf import json_format

from roost_core.errors import ErrorKind
from roost_core.handler import TaskContext, TaskLog, Transition
from roost_core.remote import JobMeta, RemoteJobHandler, RemoteJobPlugin, UserError, attempt_job_id
from roost_webapi.results import ResultTypeError, declared_type, write_results
from roost_webapi.secrets import MissingSecretError, read_secret
from roost_webapi.settings import BigQuerySettings
from roost_webapi.values import UnsupportedInputError, input_values

__all__ = ["BigQueryPlugin", "BigQueryStatus", "bigquery_handler"]

_TEMPLATE_INPUT = re.compile(r"\{\{\s*[.$]inputs\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}", re.IGNORECASE)
_CUSTOM_KEYS = ("ProjectID", "Location", "Domain")
_TRANSIENT = frozenset({"backendError", "internalError", "rateLimitExceeded", "tableUnavailable", "timeout"})
_BQ_TYPES = {
    types_pb2.INTEGER: "INT64",
    types_pb2.FLOAT: "FLOAT64",
    types_pb2.STRING: "STRING",
    types_pb2.BOOLEAN: "BOOL",
    types_pb2.DATETIME: "DATETIME",
}


@dataclass(frozen=True)
class BigQueryStatus:
    """What jobs.get says of a job: where it is, its state and, when it failed, the reason and message."""

    job_id: str
    project: str
    location: str
    state: str
    error_reason: str = ""
    error_message: str = ""


def bigquery_handler(settings: BigQuerySettings) -> RemoteJobHandler[BigQueryStatus]:
    """The handler for ``bigquery_query_job_task`` tasks."""
    return RemoteJobHandler(BigQueryPlugin(settings), settings)


def query_text(ctx: TaskContext) -> str:
    """The task's query, ``{{ .inputs.x }}`` turned into the parameter ``@x``."""
    return _TEMPLATE_INPUT.sub(lambda m: "@" + m.group(1), ctx.task.sql.statement)


class BigQueryPlugin(RemoteJobPlugin[BigQueryStatus]):
    """jobs.insert / jobs.get / jobs.cancel for one BigQuery endpoint and credentials."""

    name = "bigquery"

    def __init__(self, settings: BigQuerySettings) -> None:
        self.settings = settings
        # The clients are typed Any: the library's annotations refuse arguments it documents (retry=None).
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def client(self, project: str) -> Any:
        """A client for ``project`` (one per project, shared by all its jobs)."""
        with self._lock:
            client = self._clients.get(project)
            if client is None:
                client = self._clients[project] = self._new_client(project)
            return client

    def _new_client(self, project: str) -> Any:
        from google.api_core.client_options import ClientOptions
        from google.cloud import bigquery

        settings = self.settings
        credentials: Any = None
        if settings.credentials == "anonymous":
            from google.auth.credentials import AnonymousCredentials

            credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
        elif settings.credentials == "service_account":
            from google.oauth2 import service_account

            key = read_secret(settings.service_account_secret, settings.secrets)
            try:
                info = json.loads(key)
                credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                    info, scopes=["https://www.googleapis.com/auth/cloud-platform"]
                )
            except (ValueError, KeyError) as exc:
                # the key's text is never shown: only which secret failed and why
                raise MissingSecretError(
                    f"secret {settings.service_account_secret!r} is not a service account key: "
                    f"{type(exc).__name__}"
                ) from None
        options = ClientOptions(api_endpoint=settings.endpoint) if settings.endpoint else None
        return bigquery.Client(project=project, credentials=credentials, client_options=options)

    def create(self, ctx: TaskContext, inputs: literals_pb2.LiteralMap) -> JobMeta:
        """Insert the query job (or find the one a previous call inserted)."""
        from google.api_core import exceptions
        from google.cloud import bigquery

        custom = json_format.MessageToDict(ctx.task.custom)
        project = custom.get("ProjectID")
        if not isinstance(project, str) or not project:
            raise UserError("the task's custom has no ProjectID", code="BigQueryBadTask")
        location = custom.get("Location") or None
        query = query_text(ctx)
        try:
            job_config: Any = bigquery.QueryJobConfig.from_api_repr(
                {"query": {k: v for k, v in custom.items() if k not in _CUSTOM_KEYS}}
            )
            job_config.query_parameters = _parameters(ctx, inputs)
        except UnsupportedInputError as exc:
            raise UserError(f"{exc}; query: {query}", code="BigQueryBadInput") from None
        job_id = "roost-" + attempt_job_id(ctx.task_execution_id, max_length=200)
        client = self.client(project)
        timeout = self.settings.request_timeout
        try:
            job = client.query(
                query,
                job_config=job_config,
                job_id=job_id,
                location=location,
                project=project,
                retry=None,
                job_retry=None,
                timeout=timeout,
            )
        except exceptions.Conflict:
            job = client.get_job(job_id, project=project, location=location, retry=None, timeout=timeout)
        except (exceptions.BadRequest, exceptions.NotFound, exceptions.Forbidden) as exc:
            raise UserError(
                f"BigQuery rejected the query: {_message(exc)}; query: {query}", code="BigQueryQueryRejected"
            ) from None
        return {"id": job.job_id, "project": project, "location": job.location or location or ""}

    def get(self, meta: JobMeta) -> BigQueryStatus:
        """jobs.get: the state, and the error of a failed job."""
        from google.api_core import exceptions

        client = self.client(meta["project"])
        try:
            job = client.get_job(
                meta["id"],
                project=meta["project"],
                location=meta["location"] or None,
                retry=None,
                timeout=self.settings.request_timeout,
            )
        except exceptions.NotFound as exc:
            raise UserError(
                f"BigQuery no longer knows the job: {_message(exc)}", code="BigQueryJobGone"
            ) from None
        error = job.error_result or {}
        return BigQueryStatus(
            meta["id"],
            meta["project"],
            meta["location"],
            str(job.state),
            str(error.get("reason", "")),
            str(error.get("message", "")),
        )

    def delete(self, meta: JobMeta) -> None:
        """jobs.cancel; a job that is gone or done is fine."""
        from google.api_core import exceptions

        client = self.client(meta["project"])
        try:
            client.cancel_job(
                meta["id"],
                project=meta["project"],
                location=meta["location"] or None,
                retry=None,
                timeout=self.settings.request_timeout,
            )
        except exceptions.NotFound:
            return

    def status(self, ctx: TaskContext, resource: BigQueryStatus) -> Transition:
        """PENDING / RUNNING / DONE; a finished job's rows become the ``results`` output."""
        logs = _console_link(resource)
        if resource.state == "PENDING":
            return Transition.queued(reason="BigQuery job pending")
        if resource.state != "DONE":
            return Transition.running(reason=f"BigQuery job {resource.state.lower()}", logs=logs)
        query = query_text(ctx)
        if resource.error_reason or resource.error_message:
            detail = f"BigQuery job failed: {resource.error_reason}: {resource.error_message}; query: {query}"
            if resource.error_reason in _TRANSIENT:
                return Transition.failure("BigQueryJobFailed", detail, kind=ErrorKind.SYSTEM, logs=logs)
            return Transition.failure("BigQueryJobFailed", detail, retryable=False, logs=logs)
        if declared_type(ctx) is None:
            ctx.write_outputs(literals_pb2.LiteralMap())
            return Transition.success(logs=logs)
        # The one remote read outside get(): the rows of a finished job, once.
        client = self.client(resource.project)
        job = client.get_job(
            resource.job_id,
            project=resource.project,
            location=resource.location or None,
            retry=None,
            timeout=self.settings.request_timeout,
        )
        rows = job.result(
            page_size=self.settings.page_size, retry=None, timeout=self.settings.request_timeout
        )
        table = rows.to_arrow(create_bqstorage_client=False)
        try:
            write_results(ctx, table.to_batches(), table.schema)
        except ResultTypeError as exc:
            raise UserError(
                f"the result cannot be the task's output: {exc}; query: {query}", code="BigQueryResultType"
            ) from None
        return Transition.success(logs=logs)


def _parameters(ctx: TaskContext, inputs: literals_pb2.LiteralMap) -> list[Any]:
    from google.cloud import bigquery

    parameters: list[Any] = []
    for name, (literal_type, value) in input_values(inputs, ctx.task.interface.inputs.variables).items():
        if literal_type.HasField("collection_type"):
            element = _bq_type(name, literal_type.collection_type)
            parameters.append(bigquery.ArrayQueryParameter(name, element, _plain(value)))
        else:
            parameters.append(
                bigquery.ScalarQueryParameter(name, _bq_type(name, literal_type), _plain(value))
            )
    return parameters


def _bq_type(name: str, literal_type: types_pb2.LiteralType) -> str:
    if literal_type.HasField("union_type"):
        # Optional[T]: the one type that is not none
        others = [
            v
            for v in literal_type.union_type.variants
            if not v.HasField("simple") or v.simple != types_pb2.NONE
        ]
        if len(others) == 1:
            return _bq_type(name, others[0])
    if literal_type.HasField("simple") and literal_type.simple in _BQ_TYPES:
        return _BQ_TYPES[literal_type.simple]
    raise UnsupportedInputError(
        f"input {name!r} has a type BigQuery parameters cannot take "
        f"({json_format.MessageToJson(literal_type, indent=None)}); use int, float, str, bool, datetime or a list of them"
    )


def _plain(value: Any) -> Any:
    """DATETIME parameters are civil times: a UTC instant without its zone, as flytekit sends it."""
    import datetime

    if isinstance(value, datetime.datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _message(exc: Any) -> str:
    errors = getattr(exc, "errors", None) or []
    for error in errors:
        if isinstance(error, dict) and error.get("message"):
            reason = error.get("reason")
            return f"{reason}: {error['message']}" if reason else str(error["message"])
    return str(getattr(exc, "message", exc))


def _console_link(job: BigQueryStatus) -> tuple[TaskLog, ...]:
    uri = (
        f"https://console.cloud.google.com/bigquery?project={job.project}"
        f"&j=bq:{job.location}:{job.job_id}&page=queryresults"
    )
    return (TaskLog(name="BigQuery Console", uri=uri),)
