"""The edge of the gRPC server: what every call goes through before and after its handler.

:class:`EdgeInterceptor` wraps every unary handler so that each call

- gets its request id (:func:`roost_admin.server.errors.request_id_from`), sent back in the trailing metadata;
- is parsed inside the handler: grpc-python would answer a request that is not valid protobuf with INTERNAL
  ("Exception deserializing request!"), which tells the caller nothing; here it is INVALID_ARGUMENT naming the
  method;
- passes :func:`roost_admin.services.request_checks.check_request` (unknown enum values, out-of-range durations and
  timestamps, NUL characters, size limits) before its handler sees it;
- ends with a proper status whatever the handler raises (:func:`roost_admin.server.errors.answer`): an RPC Roost
  does not implement is UNIMPLEMENTED with a single log line, not grpc's ERROR with a traceback, and nothing is
  ever UNKNOWN.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf.message import DecodeError, Message

from roost_admin.errors import InvalidArgument
from roost_admin.server.errors import REQUEST_ID_KEY, answer, request_id_from, serving
from roost_admin.services.request_checks import RequestLimits, check_request


class EdgeInterceptor(grpc.ServerInterceptor):
    """Server interceptor: request ids, parsing, request checks and error statuses for every unary call."""

    def __init__(self, limits: RequestLimits) -> None:
        self.limits = limits

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        """Wrap unary-unary handlers; streaming handlers (none are served) pass through unchanged."""
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None or handler.request_deserializer is None:
            return handler
        method = str(handler_call_details.method).rsplit("/", 1)[-1]
        parse: Callable[[bytes], Any] = handler.request_deserializer
        behavior: Callable[[Any, grpc.ServicerContext], Any] = handler.unary_unary
        limits = self.limits

        def guarded(payload: bytes, context: grpc.ServicerContext) -> Any:
            call_request_id = request_id_from(context.invocation_metadata())
            with serving(call_request_id):
                context.set_trailing_metadata(((REQUEST_ID_KEY, call_request_id),))
                try:
                    try:
                        request = parse(payload)
                    except DecodeError as exc:
                        raise InvalidArgument(
                            f"{method}: the request is not a valid protobuf message: {exc}"
                        ) from None
                    # Auth's refusal of an unauthenticated call never parses its payload: nothing to check.
                    if isinstance(request, Message):
                        check_request(request, limits)
                    return behavior(request, context)
                except Exception as exc:
                    # A handler that already ended the call (its @rpc wrapper answered) is left as it is; the
                    # generated stubs of unimplemented RPCs set UNIMPLEMENTED, then raise NotImplementedError.
                    answered = context.code()  # type: ignore[attr-defined]  # grpc's stubs lack code()
                    if answered is not None and not isinstance(exc, NotImplementedError):
                        raise
                    answer(context, method, exc)

        return grpc.unary_unary_rpc_method_handler(
            guarded, request_deserializer=None, response_serializer=handler.response_serializer
        )
