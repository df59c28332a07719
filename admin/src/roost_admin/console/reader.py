"""How the console reads and acts: through the same service operations the gRPC servicers and the HTTP API bind,
with the same rule of auth checked for the page's principal, so a page can show and do only what the API
would let its viewer see and do."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flyteidl.admin import execution_pb2
from google.protobuf.message import Message

from roost_admin.api.gateway import service_operation
from roost_admin.auth.rules import RULES
from roost_admin.errors import Unauthenticated, Unimplemented
from roost_admin.services.recovery import ResumeRequest

if TYPE_CHECKING:
    from roost_admin.auth.gate import AuthGate
    from roost_admin.auth.roles import Principal
    from roost_admin.services import Services


class Reader:
    """Calls of one page, for one principal (None when auth is off)."""

    def __init__(self, services: Services, gate: AuthGate | None, principal: Principal | None) -> None:
        self.services = services
        self.gate = gate
        self.principal = principal

    def call(self, rpc: str, request: Message, service: str = "AdminService") -> Any:
        """``service``'s RPC ``rpc`` (``GetExecution``) with ``request``, as the API serves it."""
        operation = service_operation(self.services, service, rpc)
        if operation is None:
            raise Unimplemented(f"{rpc} is not served")
        return self._authorized(rpc, request, service, operation)

    def recover(self, request: execution_pb2.ExecutionRecoverRequest, version: str = "") -> Any:
        """RecoverExecution; with ``version``, Roost's resume on that version of the launch plan (``latest``
        for the newest), under RecoverExecution's rule as over gRPC and HTTP."""
        resume = ResumeRequest(version)
        return self._authorized(
            "RecoverExecution",
            request,
            "AdminService",
            lambda _: self.services.recovery.recover_execution(request, resume).response,
        )

    def _authorized(
        self, rpc: str, request: Message, service: str, operation: Callable[[Message], Any]
    ) -> Any:
        full_name = f"/flyteidl.service.{service}/{rpc}"
        grants = None
        if self.gate is not None:
            if self.principal is None:
                raise Unauthenticated(f"{rpc}: authentication required")
            grants = self.gate.authorize(self.principal, full_name, request)
        response = operation(request)
        rule = RULES.get(full_name)
        if grants is not None and rule is not None and rule.filter_response is not None:
            response = rule.filter_response(response, grants)
        return response
