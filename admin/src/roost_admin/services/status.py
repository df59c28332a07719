"""The admin's own state: whether its database answers (``/healthz``), and its version (GetVersion)."""

from __future__ import annotations

import importlib.metadata

from flyteidl.admin import version_pb2
from sqlalchemy import text

from roost_admin.services.base import Service

VERSION = importlib.metadata.version("roost-admin")


class Status(Service):
    """Health and version."""

    def ping(self) -> None:
        """Run one query; a database that does not answer raises SQLAlchemy's error."""
        with self.ctx.db.session() as session:
            session.execute(text("SELECT 1"))

    def get_version(self, request: version_pb2.GetVersionRequest) -> version_pb2.GetVersionResponse:
        """The server's version, ``v``-prefixed as flyteadmin reports its release (``v1.16.8``)."""
        return version_pb2.GetVersionResponse(
            control_plane_version=version_pb2.Version(Version=f"v{VERSION}", Build="roost", BuildTime="")
        )
