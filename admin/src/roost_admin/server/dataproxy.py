"""flyteidl's DataProxyService over gRPC (:class:`roost_admin.services.dataproxy.DataProxy`)."""

from __future__ import annotations

from flyteidl.service import dataproxy_pb2_grpc

from roost_admin.server.adapter import Servicer, Unary


class DataProxyService(Servicer, dataproxy_pb2_grpc.DataProxyServiceServicer):  # type: ignore[misc]  # flyteidl is untyped
    """Signed upload and download URLs, and execution data by ``flyte://`` URL."""

    CreateUploadLocation = Unary("dataproxy", "create_upload_location")
    CreateDownloadLocation = Unary("dataproxy", "create_download_location")
    CreateDownloadLink = Unary("dataproxy", "create_download_link")
    GetData = Unary("dataproxy", "get_data")
