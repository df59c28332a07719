"""What a remote job plugin author writes: four methods that talk to the remote system.

A remote job is work that runs elsewhere (a Trino query, a BigQuery job, a SaaS API call) and is
watched until it ends. Subclass :class:`RemoteJobPlugin`, wrap it in
:class:`~roost_core.remote.RemoteJobHandler`, and register that::

    class QueryPlugin(RemoteJobPlugin[QueryStatus]):
        name = "my-query"

        def create(self, ctx, inputs):
            request_id = attempt_job_id(ctx.task_execution_id)
            job = client.submit(ctx.task.custom["sql"], request_id=request_id)
            return {"id": job.id}

        def get(self, meta):
            return client.status(meta["id"])              # a small, comparable value

        def delete(self, meta):
            client.cancel(meta["id"])

        def status(self, ctx, resource):
            if resource.state == "DONE":
                ctx.write_outputs(...)
                return Transition.success()
            if resource.state == "FAILED":
                return Transition.failure("QueryFailed", resource.error, retryable=False)
            return Transition.running()

    def query_handler(settings: RemoteJobSettings) -> RemoteJobHandler:
        return RemoteJobHandler(QueryPlugin(), settings)

    @hookimpl
    def roost_task_handlers(register):
        register("my-query", query_handler, task_types=["my-query"], default=True, settings=RemoteJobSettings)

The machinery does the rest: quotas, rate limits, retries of failed calls, polling ``get`` in the
background and waking the execution when the status changes, persisting ``create``'s result so
that an engine restart resumes watching the same job, and letting an admin worker park the execution
between polls (its slot serves others meanwhile).
"""

from __future__ import annotations

import abc
import json
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

from flyteidl.core import literals_pb2

from roost_core.errors import RoostError
from roost_core.handler import TaskContext, Transition

__all__ = ["JobMeta", "RemoteJobPlugin", "UserError"]

ResourceT = TypeVar("ResourceT")

JobMeta = Mapping[str, Any]
"""What ``create`` returns and ``get`` / ``delete`` receive: a JSON-able mapping finding the job."""


class UserError(RoostError):
    """Raise it from ``create``, ``get`` or ``status`` when the job fails through the user's fault.

    A rejected query, a missing table, a permission the task's owner lacks: the attempt fails with a
    USER-kind error carrying this message (the task, node and job are named around it). Any other
    exception is a system failure, retried up to ``max_system_failures`` times.
    """

    def __init__(self, message: str, *, code: str = "RemoteJobUserError", retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.retryable = retryable


class RemoteJobPlugin(abc.ABC, Generic[ResourceT]):
    """The calls a remote job plugin makes; ``ResourceT`` is what ``get`` returns.

    One instance serves every attempt, from several threads: keep per-job data in the meta, not on
    ``self``. ``get`` and ``delete`` run without a task context (``get`` runs on a background
    thread), so the meta must hold everything they need.
    """

    name: str = ""
    """The handler's name in configuration (``default_for_task_types``); required. Settings of the plugin's
    own (a host, a project) go in a :class:`~roost_core.remote.RemoteJobSettings` subclass that the plugin
    registers and its factory hands to the plugin."""

    @abc.abstractmethod
    def create(self, ctx: TaskContext, inputs: literals_pb2.LiteralMap) -> JobMeta:
        """Submit the job; return what finds it again (its id...) as a small JSON-able mapping.

        It may be called more than once for the same attempt (the engine can crash after the job was
        created and before the returned meta was saved), so name the job with
        ``attempt_job_id(ctx.task_execution_id)`` or pass that as a request id, letting the remote
        system return the existing job instead of starting a second one. Raise :class:`UserError`
        when the remote system rejects the job as invalid; any other exception is retried.
        """

    @abc.abstractmethod
    def get(self, meta: JobMeta) -> ResourceT:
        """Fetch the job's current status from the remote system.

        Called from background threads every ``resync_interval``. Return a small value that compares
        equal when nothing changed (a frozen dataclass, a tuple, a dict): the execution is woken
        when it differs from the last one. Raise :class:`UserError` if the job can never be watched
        again because of the user (deleted by its owner, say); other exceptions are retried.
        """

    @abc.abstractmethod
    def delete(self, meta: JobMeta) -> None:
        """Cancel the job; called at least once when an attempt is aborted.

        A job that already ended or is gone must not make it fail.
        """

    @abc.abstractmethod
    def status(self, ctx: TaskContext, resource: ResourceT) -> Transition:
        """Map the latest ``get`` result to a :class:`Transition`; no remote calls here.

        On success, write the outputs first (``ctx.write_outputs(...)``), then return
        ``Transition.success()``. Return ``Transition.failure(...)`` for a job that failed, and
        queued / running / waiting transitions (with log links) otherwise. Leave ``state`` unset:
        the machinery owns the plugin state.
        """

    def resource_requirements(self, ctx: TaskContext) -> Mapping[str, int] | None:
        """Quota units this attempt needs, by quota name; ``{}`` needs none.

        The default, None, takes one unit of every quota in the configuration, which makes a
        configured quota a plain cap on concurrent jobs. Override it to pick a quota per task (one
        per cluster).
        """
        return None

    def job_label(self, meta: JobMeta) -> str:
        """How messages name the job: ``meta["id"]`` if there is one, else the meta as JSON."""
        if "id" in meta:
            return str(meta["id"])
        return json.dumps(dict(meta), sort_keys=True, separators=(",", ":"))
