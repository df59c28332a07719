"""How a gRPC servicer method becomes a service call: :class:`Unary` binds an RPC to one operation of
:class:`~roost_admin.services.Services`, and whatever the operation raises is answered by
:func:`roost_admin.server.errors.answer`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from roost_admin.server.errors import answer
from roost_admin.services import Services


class Servicer:
    """A gRPC servicer whose methods call the admin's services."""

    def __init__(self, services: Services) -> None:
        self.services = services


class Unary:
    """A unary RPC served by ``services.<service>.<operation>(request)``."""

    def __init__(self, service: str, operation: str) -> None:
        self.service = service
        self.operation = operation
        self.rpc = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.rpc = name

    def __get__(self, servicer: Servicer | None, owner: type) -> Any:
        if servicer is None:
            return self
        call: Callable[[Any], Any] = getattr(getattr(servicer.services, self.service), self.operation)
        rpc = self.rpc

        def handle(request: Any, context: grpc.ServicerContext) -> Any:
            try:
                return call(request)
            except Exception as exc:  # every failure gets a proper status, never grpc's UNKNOWN
                answer(context, rpc, exc)

        handle.__name__ = rpc
        handle.__doc__ = call.__doc__
        return handle
