"""Roost's own gRPC service, beside flyteidl's on the same port: what Flyte's API has no RPC for.
``/roost.admin.RoostService/ListExecutionNotifications`` takes flyteidl's ``WorkflowExecutionGetRequest`` and
answers a ``google.protobuf.Struct`` (``{"notifications": [{id, channel, phase, state, attempts, last_error,
created_at, delivered_at}]}``), so no flyteidl message or service changes and Flyte clients never see it."""

from __future__ import annotations

from typing import Any

import grpc
from flyteidl.admin import execution_pb2
from google.protobuf import struct_pb2

from roost_admin.server.adapter import Servicer
from roost_admin.server.errors import answer

SERVICE = "roost.admin.RoostService"
LIST_NOTIFICATIONS = "ListExecutionNotifications"
METHODS: dict[str, type[execution_pb2.WorkflowExecutionGetRequest]] = {
    f"/{SERVICE}/{LIST_NOTIFICATIONS}": execution_pb2.WorkflowExecutionGetRequest
}
"""Roost's own RPCs by full method name, with their request types (the authorization table covers each)."""


class RoostService(Servicer):
    """Serves :data:`SERVICE`."""

    def list_execution_notifications(
        self, request: execution_pb2.WorkflowExecutionGetRequest, context: grpc.ServicerContext
    ) -> struct_pb2.Struct:
        """Each notification of an execution with its state, attempts and last error."""
        try:
            ident = request.id
            views = self.services.notifier.list_for_execution(ident.project, ident.domain, ident.name)
            answer_ = struct_pb2.Struct()
            answer_.update(
                {
                    "notifications": [
                        {
                            "id": view.id,
                            "channel": view.channel,
                            "phase": view.phase,
                            "state": view.state,
                            "attempts": view.attempts,
                            "last_error": view.last_error,
                            "created_at": view.created_at.isoformat(),
                            "delivered_at": view.delivered_at.isoformat() if view.delivered_at else "",
                        }
                        for view in views
                    ]
                }
            )
            return answer_
        except Exception as exc:  # every failure gets a proper status, never grpc's UNKNOWN
            answer(context, LIST_NOTIFICATIONS, exc)
            raise  # answer() aborts the call; this is never reached


def add_roost_service(servicer: RoostService, server: Any) -> None:
    """Serve :class:`RoostService` on ``server``."""
    handler = grpc.unary_unary_rpc_method_handler(
        servicer.list_execution_notifications,
        request_deserializer=execution_pb2.WorkflowExecutionGetRequest.FromString,
        response_serializer=struct_pb2.Struct.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(SERVICE, {LIST_NOTIFICATIONS: handler}),)
    )
