"""flyteidl's SignalService over gRPC (:class:`roost_admin.services.signals.Signals`)."""

from __future__ import annotations

from flyteidl.service import signal_pb2_grpc

from roost_admin.server.adapter import Servicer, Unary


class SignalService(Servicer, signal_pb2_grpc.SignalServiceServicer):  # type: ignore[misc]  # flyteidl is untyped
    """GetOrCreateSignal, ListSignals and SetSignal."""

    GetOrCreateSignal = Unary("signals", "get_or_create_signal")
    ListSignals = Unary("signals", "list_signals")
    SetSignal = Unary("signals", "set_signal")
