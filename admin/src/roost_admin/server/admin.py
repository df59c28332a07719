"""flyteidl's AdminService, assembled from the registry RPCs and the execution RPCs."""

from __future__ import annotations

import importlib.metadata
from typing import TYPE_CHECKING

import grpc
from flyteidl.admin import version_pb2
from flyteidl.service import admin_pb2_grpc

from roost_admin.server.errors import rpc
from roost_admin.server.executions import ExecutionRPCs
from roost_admin.server.registry import RegistryRPCs

if TYPE_CHECKING:
    from roost_admin.app import AdminApp

VERSION = importlib.metadata.version("roost-admin")


class AdminService(RegistryRPCs, ExecutionRPCs, admin_pb2_grpc.AdminServiceServicer):  # type: ignore[misc]  # flyteidl is untyped
    """Every AdminService RPC Roost serves; the ones it does not serve answer UNIMPLEMENTED."""

    def __init__(self, app: AdminApp) -> None:
        self.app = app

    @rpc
    def GetVersion(
        self,
        request: version_pb2.GetVersionRequest,
        context: grpc.ServicerContext,
    ) -> version_pb2.GetVersionResponse:
        """The server's version, ``v``-prefixed as flyteadmin reports its release (``v1.16.8``)."""
        return version_pb2.GetVersionResponse(
            control_plane_version=version_pb2.Version(Version=f"v{VERSION}", Build="roost", BuildTime="")
        )
