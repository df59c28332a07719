"""A task attempt's stdout and stderr, for tasks run as local processes: Flyte needs an external log system to
show them; here the local-process handler's log files are read directly, and followed while the attempt runs.

Only a file the attempt's own record names as its log (a ``file://`` link called ``stdout`` or ``stderr`` in
the task execution's logs) is served, after the same role check as reading the task execution, so no other file
of the server can be reached. ``?follow=1`` streams the file as server-sent events (``line`` events, then
``end`` once the attempt ended and everything was sent); other handlers' log links are shown as links.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from flyteidl.admin import task_execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from roost_admin.api.gateway import HTTP_STATUS
from roost_admin.auth.http_policy import PRINCIPAL
from roost_admin.console.reader import Reader
from roost_admin.errors import InvalidArgument, NotFound
from roost_admin.server.errors import status_of

if TYPE_CHECKING:
    from roost_admin.auth.gate import AuthGate
    from roost_admin.services import Services

STREAMS = ("stdout", "stderr")
MAX_BYTES = 4 << 20
"""How much of a log a page shows at most (its end)."""
_FOLLOW_SECONDS = 0.5
"""How often a followed log is read for new lines while its attempt runs."""
_ENDED = {
    core_execution_pb2.TaskExecution.SUCCEEDED,
    core_execution_pb2.TaskExecution.FAILED,
    core_execution_pb2.TaskExecution.ABORTED,
}


class LogFiles:
    """The log route of the console."""

    def __init__(self, services: Services, gate: AuthGate | None) -> None:
        self.services = services
        self.gate = gate

    def routes(self, path: str) -> list[BaseRoute]:
        """The route serving a log at ``path`` (with ``{node}``, ``{attempt}`` and ``{stream}``)."""
        return [Route(path, self.serve, methods=["GET"])]

    async def serve(self, request: Request) -> Response:
        """The log's text, or its lines as they are written (``?follow=1``)."""
        reader = Reader(self.services, self.gate, request.scope.get(PRINCIPAL))
        try:
            path, ended = await run_in_threadpool(self._find, reader, request)
        except Exception as exc:  # the admin's message, with its status
            code, message = status_of(exc, "TaskLogs")
            return PlainTextResponse(message, HTTP_STATUS.get(code, 500))
        if request.query_params.get("follow"):
            return StreamingResponse(
                self._follow(reader, request, path, ended),
                media_type="text/event-stream",
                headers={"cache-control": "no-cache"},
            )
        text = await run_in_threadpool(_tail, path)
        return PlainTextResponse(text)

    def _attempt(self, reader: Reader, request: Request) -> task_execution_pb2.TaskExecution:
        params = request.path_params
        if params["stream"] not in STREAMS:
            raise NotFound(f"no log {params['stream']!r}: logs are {', '.join(STREAMS)}")
        try:
            attempt = int(params["attempt"])
        except ValueError:
            raise InvalidArgument(f"attempt {params['attempt']!r} is not a number") from None
        node = identifier_pb2.NodeExecutionIdentifier(
            execution_id=identifier_pb2.WorkflowExecutionIdentifier(
                project=params["project"], domain=params["domain"], name=params["name"]
            ),
            node_id=params["node"],
        )
        attempts = reader.call(
            "ListTaskExecutions",
            task_execution_pb2.TaskExecutionListRequest(node_execution_id=node, limit=1000),
        ).task_executions
        for found in attempts:
            if found.id.retry_attempt == attempt:
                return found
        raise NotFound(f"node {params['node']} of execution {params['name']} has no attempt {attempt}")

    def _find(self, reader: Reader, request: Request) -> tuple[str, bool]:
        found = self._attempt(reader, request)
        stream = request.path_params["stream"]
        for log in found.closure.logs:
            parts = urlsplit(log.uri)
            if log.name == stream and parts.scheme == "file":
                return unquote(parts.path), found.closure.phase in _ENDED
        raise NotFound(
            f"attempt {found.id.retry_attempt} of node {found.id.node_execution_id.node_id} has no {stream} file "
            "(only tasks run as local processes keep one; see its log links)"
        )

    async def _follow(self, reader: Reader, request: Request, path: str, ended: bool) -> AsyncIterator[str]:
        offset = 0
        pending = b""
        while True:
            chunk = await run_in_threadpool(_read_from, path, offset)
            offset += len(chunk)
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield f"event: line\ndata: {json.dumps(line.decode(errors='replace'))}\n\n"
            if ended:
                if pending:
                    yield f"event: line\ndata: {json.dumps(pending.decode(errors='replace'))}\n\n"
                yield "event: end\ndata: {}\n\n"
                return
            await asyncio.sleep(_FOLLOW_SECONDS)
            try:
                ended = (await run_in_threadpool(self._attempt, reader, request)).closure.phase in _ENDED
            except Exception:  # the attempt can no longer be read: stop following
                ended = True


def _read_from(path: str, offset: int) -> bytes:
    try:
        with open(path, "rb") as file:
            file.seek(offset)
            return file.read(MAX_BYTES)
    except FileNotFoundError:
        return b""


def _tail(path: str) -> str:
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as file:
            file.seek(max(0, size - MAX_BYTES))
            return file.read().decode(errors="replace")
    except FileNotFoundError:
        return "(the log file is gone: the task's folder was cleaned up)"
