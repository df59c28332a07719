"""The gRPC side of enforcement: every call is authenticated and checked against its rule before its handler
runs. The caller is available to handlers as :data:`CURRENT_PRINCIPAL`.

A refused call answers UNAUTHENTICATED (no token, or a bad one: flytekit then refreshes its token and tries
again), PERMISSION_DENIED (the role is missing, naming the role and project), or UNAVAILABLE (an external
issuer's keys cannot be fetched). An unauthenticated request's payload is never parsed.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import grpc
from sqlalchemy.exc import SQLAlchemyError

from roost_admin.auth.roles import Principal
from roost_admin.auth.rules import RULES
from roost_admin.auth.tokens import IssuerUnavailable, TokenError
from roost_admin.errors import PermissionDenied

if TYPE_CHECKING:
    from roost_admin.auth.gate import AuthGate

log = logging.getLogger(__name__)

CURRENT_PRINCIPAL: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "roost_principal", default=None
)
"""Who is calling, inside an RPC handler (None when auth is off or the RPC is public)."""


def _refusal(code: grpc.StatusCode, message: str) -> grpc.RpcMethodHandler[Any, Any]:
    def refuse(request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(code, message)

    # The payload is not parsed: nothing of an unauthenticated request is read.
    return grpc.unary_unary_rpc_method_handler(refuse, request_deserializer=lambda data: data)


class AuthInterceptor(grpc.ServerInterceptor):
    """Authenticates every call and enforces :data:`~roost_admin.auth.rules.RULES`."""

    def __init__(self, gate: AuthGate) -> None:
        self.gate = gate

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        method: str = handler_call_details.method
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        rule = RULES.get(method)
        if rule is None or handler.unary_unary is None:
            log.error("refused %s: it has no authorization rule", method)
            return _refusal(
                grpc.StatusCode.PERMISSION_DENIED,
                f"{method} has no authorization rule, so nobody may call it",
            )
        if rule.public:
            return handler
        name = method.rsplit("/", 1)[-1]
        try:
            principal = self.gate.authenticate(handler_call_details.invocation_metadata)
        except TokenError as exc:
            return _refusal(grpc.StatusCode.UNAUTHENTICATED, f"{name}: {exc}")
        except IssuerUnavailable as exc:
            log.warning("%s: %s", name, exc)
            return _refusal(grpc.StatusCode.UNAVAILABLE, f"{name}: {exc}")
        inner = handler.unary_unary

        def guarded(request: Any, context: grpc.ServicerContext) -> Any:
            try:
                grants = self.gate.authorize(principal, method, request)
            except PermissionDenied as exc:
                log.info("denied: %s", exc.message)
                context.abort(grpc.StatusCode.PERMISSION_DENIED, exc.message)
            except SQLAlchemyError as exc:
                log.warning("%s: cannot read role bindings: %s", name, exc)
                context.abort(grpc.StatusCode.UNAVAILABLE, f"{name}: the database is unavailable")
            except Exception as exc:  # never UNKNOWN: flytekit would start a browser login
                log.exception("%s: the authorization check failed", name)
                context.abort(
                    grpc.StatusCode.INTERNAL, f"{name}: the authorization check failed: {type(exc).__name__}"
                )
            reset = CURRENT_PRINCIPAL.set(principal)
            try:
                response = inner(request, context)
            finally:
                CURRENT_PRINCIPAL.reset(reset)
            if rule.filter_response is not None and response is not None:
                response = rule.filter_response(response, grants)
            return response

        return grpc.unary_unary_rpc_method_handler(
            guarded,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
