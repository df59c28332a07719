"""gRPC and HTTP over TLS from configured certificate files (a throwaway CA from trustme), with the ``roost``
client trusting that CA through ``ca_cert_file``; and auth's token endpoint over the same TLS."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
import trustme
from auth_support import grant
from conftest import make_settings
from flyteidl.admin import version_pb2
from flyteidl.service import admin_pb2_grpc
from pydantic import ValidationError

from roost.remote.client import RemoteClient
from roost.remote.config import ClientConfig
from roost_admin.app import AdminApp
from roost_admin.auth import directory
from roost_admin.auth.roles import Role
from roost_admin.config import Settings


@pytest.fixture
def certificates(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(CA bundle, server certificate, server key) for 127.0.0.1 and localhost."""
    authority = trustme.CA()
    server = authority.issue_cert("127.0.0.1", "localhost")
    ca, cert, key = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    authority.cert_pem.write_to_path(str(ca))
    server.private_key_pem.write_to_path(str(key))
    for blob in server.cert_chain_pems:
        blob.write_to_path(str(cert), append=True)
    return ca, cert, key


@pytest.fixture
def tls_app(tmp_path: Path, certificates: tuple[Path, Path, Path]) -> Iterator[AdminApp]:
    _, cert, key = certificates
    settings = make_settings(
        tmp_path,
        f"sqlite:///{tmp_path / 'roost.db'}",
        tls={"cert_file": cert, "key_file": key},
        auth={"enabled": True},
    )
    admin = AdminApp(settings)
    admin.start()
    try:
        yield admin
    finally:
        admin.stop()


def test_grpc_and_http_over_tls(
    tls_app: AdminApp, certificates: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca = certificates[0]
    assert tls_app.http_url.startswith("https://127.0.0.1:")
    assert httpx.get(
        f"{tls_app.http_url}/healthz", verify=ssl.create_default_context(cafile=str(ca))
    ).json() == {"status": "ok"}
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{tls_app.http_url}/healthz")  # not trusted without the CA
    credentials = grpc.ssl_channel_credentials(root_certificates=ca.read_bytes())
    with grpc.secure_channel(f"127.0.0.1:{tls_app.grpc_port}", credentials) as channel:
        stub = admin_pb2_grpc.AdminServiceStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.GetVersion(version_pb2.GetVersionRequest(), timeout=30)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with grpc.insecure_channel(f"127.0.0.1:{tls_app.grpc_port}") as plain:
        with pytest.raises(grpc.RpcError) as unreachable:
            admin_pb2_grpc.AdminServiceStub(plain).GetVersion(version_pb2.GetVersionRequest(), timeout=5)
        assert unreachable.value.code() == grpc.StatusCode.UNAVAILABLE

    with tls_app.db.begin() as session:
        secret = directory.create_client(session, "ci")
    grant(tls_app, "client", "ci", "*", Role.VIEWER)
    monkeypatch.setenv("ROOST_CLIENT_CONFIG", str(tmp_path / "client.yaml"))
    monkeypatch.setenv("ROOST_CLIENT_ID", "ci")
    monkeypatch.setenv("ROOST_CLIENT_SECRET", secret)
    config = ClientConfig(endpoint=f"127.0.0.1:{tls_app.grpc_port}", insecure=False, ca_cert_file=str(ca))
    with RemoteClient(config) as client:
        assert [project.id for project in client.list("projects", "", "")] == ["flytesnacks"]


def test_tls_needs_both_files(tmp_path: Path, certificates: tuple[Path, Path, Path]) -> None:
    with pytest.raises(ValidationError, match="tls needs both cert_file and key_file, or neither"):
        Settings(data_dir=tmp_path, tls={"cert_file": certificates[1]})
    with pytest.raises(ValidationError, match="is not a readable file"):
        Settings(data_dir=tmp_path, tls={"cert_file": tmp_path / "missing.pem", "key_file": certificates[2]})
