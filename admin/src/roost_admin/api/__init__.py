"""The HTTP/JSON API under ``/api/v1/``: flyteadmin's gateway routes over the admin's services
(:mod:`~roost_admin.api.gateway`), live phases as server-sent events (:mod:`~roost_admin.api.live`), and the
OpenAPI document of both (``/api/v1/openapi.json``, and flyteadmin's ``/api/v1/openapi``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from roost_admin.api.gateway import Gateway
from roost_admin.api.live import LiveStreams

if TYPE_CHECKING:
    from roost_admin.auth.gate import AuthGate
    from roost_admin.services import Services

OPENAPI_PATHS = ("/api/v1/openapi.json", "/api/v1/openapi")
"""Where the OpenAPI document is served (the second is flyteadmin's path)."""


def api_routes(services: Services, gate: AuthGate | None = None) -> list[BaseRoute]:
    """Every route of the API; ``gate`` checks each operation's role when auth is on."""
    from roost_admin.services.status import VERSION

    document: dict[str, object] = {}

    async def openapi(request: Request) -> Response:
        if not document:
            from roost_admin.api.openapi import document as build

            document.update(build(VERSION))
        return JSONResponse(document)

    return [
        *Gateway(services, gate).routes(),
        LiveStreams(services, gate).route(),
        *(Route(path, openapi, methods=["GET"]) for path in OPENAPI_PATHS),
    ]
