"""Requests that are not valid protobuf get INVALID_ARGUMENT naming the method, not grpc's INTERNAL.

grpc-python parses a request before the handler runs and answers a parse failure with INTERNAL
("Exception deserializing request!"), which tells the caller nothing. This interceptor moves the parsing
into the handler, where a failure becomes a clear INVALID_ARGUMENT.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf.message import DecodeError


class MalformedRequestInterceptor(grpc.ServerInterceptor):
    """Server interceptor: parse unary requests inside the handler and refuse malformed ones clearly."""

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

        def parse_then_handle(payload: bytes, context: grpc.ServicerContext) -> Any:
            try:
                request = parse(payload)
            except DecodeError as exc:
                context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"{method}: the request is not a valid protobuf message: {exc}",
                )
            return behavior(request, context)

        return grpc.unary_unary_rpc_method_handler(
            parse_then_handle, request_deserializer=None, response_serializer=handler.response_serializer
        )
