"""Tokens of an external OpenID Connect issuer (a test issuer on a loopback port): discovery, keys, issuer,
audience, expiry with clock skew, key rotation, roles from bindings of the username and groups claims or from a
roles claim, and an issuer that is down."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from auth_support import bearer, error_of, grant, start_admin
from cryptography.hazmat.primitives.asymmetric import rsa
from flyteidl.admin import project_pb2
from flyteidl.service import admin_pb2_grpc, auth_pb2, auth_pb2_grpc

from roost_admin.app import AdminApp
from roost_admin.auth.roles import Role
from roost_admin.testing.oidc import TestIssuer


@pytest.fixture
def issuer() -> Iterator[TestIssuer]:
    with TestIssuer() as started:
        yield started


@pytest.fixture
def oidc_app(tmp_path, database_url: str, issuer: TestIssuer) -> Iterator[AdminApp]:
    admin = start_admin(
        tmp_path,
        database_url,
        auth={
            "external": {"issuer": issuer.url, "audience": ["roost-test"]},
            "claims": {"username": "email", "roles": "roost_roles"},
        },
    )
    try:
        yield admin
    finally:
        admin.stop()


def _list(app: AdminApp, value: str) -> list[str]:
    with grpc.insecure_channel(f"127.0.0.1:{app.grpc_port}") as channel:
        stub = admin_pb2_grpc.AdminServiceStub(channel)
        found = stub.ListProjects(project_pb2.ProjectListRequest(limit=10), metadata=bearer(value))
    return [project.id for project in found.projects]


def _refusal(app: AdminApp, value: str) -> grpc.RpcError:
    with grpc.insecure_channel(f"127.0.0.1:{app.grpc_port}") as channel:
        stub = admin_pb2_grpc.AdminServiceStub(channel)
        return error_of(stub.GetProject, project_pb2.ProjectGetRequest(id="flytesnacks"), bearer(value))


def test_tokens_of_the_issuer_with_roles_from_bindings_and_claims(
    oidc_app: AdminApp, issuer: TestIssuer
) -> None:
    grant(oidc_app, "user", "ann@example.com", "flytesnacks", Role.VIEWER)
    assert _list(oidc_app, issuer.mint("u-1", email="ann@example.com")) == ["flytesnacks"]
    grant(oidc_app, "group", "data", "*", Role.VIEWER)
    assert _list(oidc_app, issuer.mint("u-2", email="bo@example.com", groups=["data"])) == ["flytesnacks"]
    assert _list(
        oidc_app, issuer.mint("u-3", email="cy@example.com", roost_roles=["flytesnacks:viewer"])
    ) == ["flytesnacks"]
    nobody = _refusal(oidc_app, issuer.mint("u-4", email="dee@example.com"))
    assert nobody.code() == grpc.StatusCode.PERMISSION_DENIED
    assert nobody.details() == (
        "user 'dee@example.com' may not call GetProject: it needs the viewer role on project 'flytesnacks'"
    )
    grant(oidc_app, "client", "ci-bot", "flytesnacks", Role.VIEWER)
    assert _list(oidc_app, issuer.mint("ci-bot", client_id="ci-bot")) == ["flytesnacks"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"audience": "someone-else"}, "the bearer token is not meant for this service"),
        ({"issuer": "http://127.0.0.1:1/other"}, "the bearer token was not issued by"),
        ({"issued_at": -1000, "lifetime": 900}, "the bearer token has expired"),
        ({"kid": "unknown"}, "signed with a key"),
        ({"scope": "openid"}, "lacks the 'all' scope"),
    ],
)
def test_bad_tokens(oidc_app: AdminApp, issuer: TestIssuer, options: dict, message: str) -> None:
    import time

    if "issued_at" in options:
        options = {**options, "issued_at": time.time() + options["issued_at"]}
    error = _refusal(oidc_app, issuer.mint("u-1", email="ann@example.com", client_id="c", **options))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert message in error.details()


def test_clock_skew_and_key_rotation(
    oidc_app: AdminApp, issuer: TestIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from roost_admin.auth.tokens import ExternalKeys

    monkeypatch.setattr(ExternalKeys, "REFETCH_AFTER", 0.0)

    grant(oidc_app, "user", "ann@example.com", "*", Role.VIEWER)
    late = issuer.mint("u-1", email="ann@example.com", issued_at=time.time() - 630, lifetime=600)
    assert _list(oidc_app, late) == ["flytesnacks"]  # expired 30 s ago, within the 60 s skew
    issuer.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    issuer.kid = "rotated"
    assert _list(oidc_app, issuer.mint("u-1", email="ann@example.com")) == ["flytesnacks"]


def test_metadata_is_the_issuers(oidc_app: AdminApp, issuer: TestIssuer) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{oidc_app.grpc_port}") as channel:
        metadata = auth_pb2_grpc.AuthMetadataServiceStub(channel).GetOAuth2Metadata(
            auth_pb2.OAuth2MetadataRequest()
        )
    assert metadata.issuer == issuer.url and metadata.token_endpoint == f"{issuer.url}/token"


def test_issuer_down_is_unavailable_not_unauthenticated(tmp_path, database_url: str) -> None:
    admin = start_admin(
        tmp_path,
        database_url,
        auth={"external": {"issuer": "http://127.0.0.1:9", "audience": ["roost-test"]}},
    )
    try:
        with TestIssuer() as other:
            error = _refusal(admin, other.mint("u-1"))
        assert error.code() == grpc.StatusCode.UNAVAILABLE
        assert "cannot read the discovery document of http://127.0.0.1:9" in error.details()
    finally:
        admin.stop()
