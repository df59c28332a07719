"""Live phases as server-sent events: ``GET /api/v1/events/executions/{project}/{domain}/{name}`` streams the
phase changes of an execution and of its nodes.

The stream opens with the current phases (one ``execution`` event, one ``node`` event per node), then sends an
event for each phase that changed, and ends with an ``end`` event once the execution reached a terminal phase.
Each event's data is JSON: ``{"phase": "RUNNING", "updated_at": ...}`` for the execution, with ``node_id`` and
``parent_node_id`` for a node.

A stream is woken when this admin records events of its execution (the events service announces them), not by
polling; executions run by engine workers in other processes (``roost engine``) are picked up by a slow re-read
(:data:`REREAD_SECONDS`), and a comment line keeps idle connections open.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from flyteidl.admin import execution_pb2
from flyteidl.core import identifier_pb2
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from roost_admin.api.gateway import error_response
from roost_admin.auth.http_policy import PRINCIPAL
from roost_admin.errors import Unauthenticated
from roost_admin.server.errors import request_id_from, serving
from roost_admin.services.context import ExecutionKey
from roost_admin.services.rows import TERMINAL_WORKFLOW, node_phase_name, workflow_phase_name
from roost_admin.services.watching import ExecutionPhases

if TYPE_CHECKING:
    from roost_admin.auth.gate import AuthGate
    from roost_admin.auth.roles import Principal
    from roost_admin.services import Services

PATH = "/api/v1/events/executions/{project}/{domain}/{name}"
"""The stream's route."""
REREAD_SECONDS = 5.0
"""How long a stream waits for an announcement before reading the phases anyway."""
_GET_EXECUTION = "/flyteidl.service.AdminService/GetExecution"
"""The operation whose rule a stream follows (reading an execution: the viewer role)."""


def _event(kind: str, data: dict[str, str]) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def changes(before: ExecutionPhases | None, after: ExecutionPhases) -> list[str]:
    """The events telling a client that saw ``before`` (nothing yet: None) what ``after`` holds."""
    lines: list[str] = []
    if before is None or before.phase != after.phase:
        lines.append(
            _event(
                "execution",
                {"phase": workflow_phase_name(after.phase), "updated_at": after.updated_at.isoformat()},
            )
        )
    seen = {(node.parent_node_id, node.node_id): node.phase for node in before.nodes} if before else {}
    for node in after.nodes:
        if seen.get((node.parent_node_id, node.node_id)) != node.phase:
            lines.append(
                _event(
                    "node",
                    {
                        "node_id": node.node_id,
                        "parent_node_id": node.parent_node_id,
                        "phase": node_phase_name(node.phase),
                        "updated_at": node.updated_at.isoformat(),
                    },
                )
            )
    return lines


class LiveStreams:
    """The stream route over the admin's services."""

    def __init__(self, services: Services, gate: AuthGate | None, keepalive_seconds: float = 15.0) -> None:
        self.services = services
        self.gate = gate
        self.keepalive_seconds = keepalive_seconds

    def route(self) -> Route:
        """The stream's route."""
        return Route(PATH, self.stream, methods=["GET"], name="WatchExecution")

    async def stream(self, request: Request) -> Response:
        """Check the caller may read the execution and that it exists, then stream (see the module docstring)."""
        params = request.path_params
        key: ExecutionKey = (params["project"], params["domain"], params["name"])
        request_id = request_id_from(list(request.headers.items()))
        try:
            first = await run_in_threadpool(self._first_read, key, request.scope.get(PRINCIPAL), request_id)
        except Exception as exc:  # grpc-gateway's error body, as every API route answers
            return error_response(exc, "WatchExecution", request_id)
        return StreamingResponse(
            self._events(key, first),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no", "x-request-id": request_id},
        )

    def _first_read(self, key: ExecutionKey, principal: Principal | None, request_id: str) -> ExecutionPhases:
        with serving(request_id):
            if self.gate is not None:
                if principal is None:
                    raise Unauthenticated("WatchExecution: authentication required")
                get = execution_pb2.WorkflowExecutionGetRequest(
                    id=identifier_pb2.WorkflowExecutionIdentifier(project=key[0], domain=key[1], name=key[2])
                )
                self.gate.authorize(principal, _GET_EXECUTION, get)
            return self.services.watching.phases(*key)

    async def _events(self, key: ExecutionKey, first: ExecutionPhases) -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        woken = asyncio.Event()

        def listener(executions: frozenset[ExecutionKey]) -> None:
            if key in executions:
                loop.call_soon_threadsafe(woken.set)

        recorded = self.services.context.recorded
        recorded.listen(listener)
        try:
            seen: ExecutionPhases | None = None
            current = first
            waited = 0.0
            while True:
                for line in changes(seen, current):
                    yield line
                seen = current
                if current.phase in TERMINAL_WORKFLOW:
                    yield _event("end", {"phase": workflow_phase_name(current.phase)})
                    return
                timeout = min(REREAD_SECONDS, self.keepalive_seconds - waited)
                try:
                    await asyncio.wait_for(woken.wait(), timeout)
                    waited = 0.0
                except TimeoutError:
                    waited += timeout
                    if waited >= self.keepalive_seconds:
                        waited = 0.0
                        yield ": keep-alive\n\n"
                woken.clear()
                current = await run_in_threadpool(self.services.watching.phases, *key)
        finally:
            recorded.forget(listener)
