"""The web console at ``/console``: server-rendered pages (Jinja2) over the admin's services, on flyteconsole's
URL scheme, with a small script for live updates (server-sent events of the HTTP API) and confirmations. What
the browser loads ships inside the package: no front-end build, no Node."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import BaseRoute

if TYPE_CHECKING:
    from roost_admin.auth.gate import AuthGate
    from roost_admin.services import Services


def console_routes(services: Services, gate: AuthGate | None = None) -> list[BaseRoute]:
    """Every page, action and asset of the console; ``gate`` checks each call's role when auth is on."""
    from roost_admin.console.pages import Console

    return Console(services, gate).routes()
