"""The HTTP/JSON API: flyteadmin's ``/api/v1/`` routes (:mod:`roost_admin.api.bindings`), each served by the
same service operation as its gRPC method (the servicers' bindings in :mod:`roost_admin.server`), so the two
transports cannot disagree.

A call goes through what a gRPC call goes through: a request id (the ``x-request-id`` header when it is a plain
token), the request checks of the edge (:func:`~roost_admin.services.request_checks.check_request`), the role its
operation's rule asks for when auth is on, then the service. Failures answer grpc-gateway's error body,
``{"code": <gRPC code>, "message": ..., "details": [...]}``, with the HTTP status grpc-gateway gives that code,
and the message :func:`roost_admin.server.errors.status_of` gives the gRPC caller.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from roost_admin.api.bindings import Binding, bindings
from roost_admin.api.transcoding import parse_body, render, set_field
from roost_admin.auth.http_policy import PRINCIPAL
from roost_admin.auth.rules import RULES
from roost_admin.errors import AdminError, InvalidArgument, ResourceExhausted, Unauthenticated
from roost_admin.server.adapter import Unary
from roost_admin.server.admin import AdminService
from roost_admin.server.dataproxy import DataProxyService
from roost_admin.server.errors import REQUEST_ID_KEY, request_id_from, serving, status_details, status_of
from roost_admin.server.signals import SignalService
from roost_admin.services.recovery import RESUME_PLAN_TRAILER, ResumeRequest
from roost_admin.services.request_checks import RequestLimits, check_request

if TYPE_CHECKING:
    from roost_admin.auth.gate import AuthGate
    from roost_admin.auth.roles import Principal
    from roost_admin.services import Services

_SERVICERS = {
    "AdminService": AdminService,
    "SignalService": SignalService,
    "DataProxyService": DataProxyService,
}

HTTP_STATUS = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
}
"""grpc-gateway's HTTP status for each gRPC code."""

Call = Callable[[Message, Sequence[tuple[str, str]]], tuple[Message, dict[str, str]]]
"""An operation as the gateway calls it: the request and the HTTP headers in; the response and extra response
headers out."""


def service_operation(services: Services, service: str, rpc: str) -> Callable[[Message], Message] | None:
    """The service operation the gRPC servicer of ``service`` (``AdminService``) binds to ``rpc``
    (``GetExecution``), or None when it binds none."""
    bound = vars(_SERVICERS[service]).get(rpc)
    if isinstance(bound, Unary):
        call: Callable[[Message], Message] = getattr(getattr(services, bound.service), bound.operation)
        return call
    return None


def operation_of(services: Services, binding: Binding) -> Call:
    """The service operation serving ``binding``'s RPC: the one its gRPC servicer binds."""
    method = binding.method
    call = service_operation(services, method.containing_service.name, method.name)
    if call is not None:
        return lambda request, headers: (call(request), {})
    if method.full_name == "flyteidl.service.AdminService.RecoverExecution":

        def recover(request: Message, headers: Sequence[tuple[str, str]]) -> tuple[Message, dict[str, str]]:
            # Roost's resume extension rides on headers over HTTP as on metadata over gRPC.
            result = services.recovery.recover_execution(request, ResumeRequest.from_metadata(headers))
            return result.response, ({RESUME_PLAN_TRAILER: result.plan} if result.plan else {})

        return recover

    def unimplemented(request: Message, headers: Sequence[tuple[str, str]]) -> tuple[Message, dict[str, str]]:
        raise NotImplementedError(method.name)

    return unimplemented


def error_response(exc: BaseException, method: str, request_id: str) -> Response:
    """grpc-gateway's error body for ``exc`` raised while serving ``method``."""
    code, message = status_of(exc, method)
    details: list[Any] = []
    if isinstance(exc, AdminError):
        from google.rpc import status_pb2  # type: ignore[import-untyped]

        for _, value in status_details(exc):
            status = status_pb2.Status.FromString(value)
            details.extend(json_format.MessageToDict(detail) for detail in status.details)
    body = json.dumps({"code": code.value[0], "message": message, "details": details})
    return Response(
        body, HTTP_STATUS.get(code, 500), media_type="application/json", headers={REQUEST_ID_KEY: request_id}
    )


class Gateway:
    """Serves every binding over the admin's services, checking roles with ``gate`` when auth is on."""

    def __init__(self, services: Services, gate: AuthGate | None) -> None:
        self.services = services
        self.gate = gate
        settings = services.context.settings
        self.limits = RequestLimits.from_settings(settings)
        self.max_body = settings.max_message_bytes

    def routes(self) -> list[BaseRoute]:
        """One route per path template, dispatching on the HTTP method."""
        by_path: dict[str, dict[str, Binding]] = {}
        for binding in bindings():
            by_path.setdefault(binding.route_path, {})[binding.verb] = binding
        return [
            Route(
                path, self._endpoint(verbs), methods=list(verbs), name=next(iter(verbs.values())).method.name
            )
            for path, verbs in by_path.items()
        ]

    def _endpoint(self, verbs: dict[str, Binding]) -> Callable[[Request], Any]:
        calls = {verb: operation_of(self.services, binding) for verb, binding in verbs.items()}

        async def endpoint(request: Request) -> Response:
            # Starlette answers HEAD wherever GET is routed; HEAD is GET without the body, as HTTP says.
            verb = "GET" if request.method == "HEAD" else request.method
            binding = verbs[verb]
            request_id = request_id_from(list(request.headers.items()))
            body = await request.body() if binding.body else b""
            principal: Principal | None = request.scope.get(PRINCIPAL)
            return await run_in_threadpool(
                self._serve, binding, calls[verb], request, body, principal, request_id
            )

        return endpoint

    def _serve(
        self,
        binding: Binding,
        call: Call,
        http: Request,
        body: bytes,
        principal: Principal | None,
        request_id: str,
    ) -> Response:
        name = binding.method.name
        with serving(request_id):
            try:
                request = self._request(binding, http, body)
                grants = None
                if self.gate is not None:
                    if principal is None:
                        raise Unauthenticated(f"{name}: authentication required")
                    grants = self.gate.authorize(principal, binding.operation, request)
                response, headers = call(request, list(http.headers.items()))
                rule = RULES.get(binding.operation)
                if grants is not None and rule is not None and rule.filter_response is not None:
                    response = rule.filter_response(response, grants)
            except Exception as exc:  # every failure gets grpc-gateway's error body, never a bare 500
                return error_response(exc, name, request_id)
        content, media_type = render(response, http.headers.get("accept", ""))
        return Response(content, 200, media_type=media_type, headers={REQUEST_ID_KEY: request_id, **headers})

    def _request(self, binding: Binding, http: Request, body: bytes) -> Message:
        """The RPC's request message from the body, the path and the query string (the module docstring of
        :mod:`roost_admin.api.transcoding`)."""
        request = GetMessageClass(binding.method.input_type)()
        if len(body) > self.max_body:
            raise ResourceExhausted(
                f"the request body is {len(body)} bytes, over the limit of {self.max_body} (max_message_bytes)"
            )
        parse_body(request, body, http.headers.get("content-type", ""))
        for index, path in enumerate(binding.variables):
            set_field(request, path, [http.path_params[f"v{index}"]], "the path")
        query = http.query_params
        if query and binding.body:
            raise InvalidArgument(
                f"{binding.verb} {binding.template} takes its fields in the body, not the query string "
                f"(it sets {', '.join(sorted(set(query.keys())))})"
            )
        for key in dict.fromkeys(query.keys()):
            if key in binding.variables:
                raise InvalidArgument(
                    f"the query string sets {key!r}, which the path already holds", field=key
                )
            set_field(request, key, query.getlist(key), "the query string")
        check_request(request, self.limits)
        return request
