"""The built-in authorization server: client credentials, the browser login (authorization code with PKCE),
refresh tokens, the device flow, revocation; what the auth services answer; how bad tokens are refused."""

from __future__ import annotations

import base64
import hashlib
import re
import urllib.parse

import grpc
import httpx
import jwt
import pytest
from auth_support import bearer, error_of, grant, start_admin, token
from cryptography.hazmat.primitives.asymmetric import rsa
from flyteidl.admin import project_pb2
from flyteidl.service import admin_pb2_grpc, auth_pb2, auth_pb2_grpc, identity_pb2, identity_pb2_grpc

from roost_admin.app import AdminApp
from roost_admin.auth import directory
from roost_admin.auth.roles import Role

SECRET = "s3cret:with/odd+chars&="
VERIFIER = "v" * 50


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def _token_url(app: AdminApp) -> str:
    return f"{app.http_url}/oauth2/token"


def _projects(app: AdminApp, access_token: str) -> list[str]:
    with grpc.insecure_channel(f"127.0.0.1:{app.grpc_port}") as channel:
        stub = admin_pb2_grpc.AdminServiceStub(channel)
        found = stub.ListProjects(project_pb2.ProjectListRequest(limit=100), metadata=bearer(access_token))
    return [project.id for project in found.projects]


def _add_client(app: AdminApp, client_id: str, secret: str = SECRET) -> None:
    with app.db.begin() as session:
        directory.create_client(session, client_id, secret=secret)


def _add_user(app: AdminApp, username: str, password: str = "pw", groups: tuple[str, ...] = ()) -> None:
    with app.db.begin() as session:
        directory.create_user(session, username, password, email=f"{username}@example.com", groups=groups)


def test_metadata_and_public_client_config(auth_app: AdminApp, auth_channel: grpc.Channel) -> None:
    stub = auth_pb2_grpc.AuthMetadataServiceStub(auth_channel)
    metadata = stub.GetOAuth2Metadata(auth_pb2.OAuth2MetadataRequest())
    base = auth_app.http_url
    assert metadata.issuer == base
    assert metadata.token_endpoint == f"{base}/oauth2/token"
    assert metadata.authorization_endpoint == f"{base}/oauth2/authorize"
    assert metadata.device_authorization_endpoint == f"{base}/oauth2/device_authorization"
    assert metadata.jwks_uri == f"{base}/oauth2/jwks"
    assert list(metadata.code_challenge_methods_supported) == ["S256"]
    config = stub.GetPublicClientConfig(auth_pb2.PublicClientAuthConfigRequest())
    assert config.client_id == "roost"
    assert config.authorization_metadata_key == "authorization"
    assert list(config.scopes) == ["all", "offline"]
    assert (
        httpx.get(f"{base}/.well-known/openid-configuration").json()["token_endpoint"]
        == metadata.token_endpoint
    )
    keys = httpx.get(metadata.jwks_uri).json()["keys"]
    assert [key["kty"] for key in keys] == ["RSA"] and "d" not in keys[0]


def test_client_credentials_as_flytekit_sends_them(auth_app: AdminApp) -> None:
    _add_client(auth_app, "ci")
    grant(auth_app, "client", "ci", "flytesnacks", Role.VIEWER)
    # flytekit: Basic base64(id:quote_plus(secret)), a form body with grant_type and scope.
    basic = base64.b64encode(f"ci:{urllib.parse.quote_plus(SECRET)}".encode()).decode()
    response = httpx.post(
        _token_url(auth_app),
        data={"grant_type": "client_credentials", "scope": "all"},
        headers={"Authorization": f"Basic {basic}", "Accept": "application/json"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 1800 and "refresh_token" not in body
    assert response.headers["cache-control"] == "no-store"
    assert _projects(auth_app, body["access_token"]) == ["flytesnacks"]
    posted = httpx.post(
        _token_url(auth_app),
        data={"grant_type": "client_credentials", "client_id": "ci", "client_secret": SECRET},
    )
    assert posted.status_code == 200


@pytest.mark.parametrize(
    ("data", "auth", "status", "error"),
    [
        ({"grant_type": "client_credentials"}, ("ci", "wrong"), 401, "unknown client 'ci' or wrong secret"),
        (
            {"grant_type": "client_credentials"},
            ("nobody", SECRET),
            401,
            "unknown client 'nobody' or wrong secret",
        ),
        ({"grant_type": "client_credentials", "client_id": "ci"}, None, 401, "client 'ci' sent no secret"),
        ({"grant_type": "password"}, ("ci", SECRET), 400, "grant_type must be one of"),
        ({"grant_type": "client_credentials"}, None, 401, "the client is not identified"),
    ],
)
def test_token_endpoint_errors(auth_app: AdminApp, data, auth, status, error) -> None:
    _add_client(auth_app, "ci")
    response = httpx.post(_token_url(auth_app), data=data, auth=auth)
    assert response.status_code == status
    assert error in response.json()["error_description"]
    assert SECRET not in response.text


def _browser_login(app: AdminApp, redirect: str, username: str = "alice", password: str = "pw") -> str:
    """What a browser does: open the authorize URL, submit the sign-in form; returns the redirect target."""
    params = {
        "response_type": "code",
        "client_id": "roost",
        "redirect_uri": redirect,
        "scope": "all offline",
        "state": "xyz",
        "code_challenge": _challenge(VERIFIER),
        "code_challenge_method": "S256",
    }
    page = httpx.get(f"{app.http_url}/oauth2/authorize", params=params)
    assert page.status_code == 200 and "Sign in to Roost" in page.text
    hidden = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    assert hidden["code_challenge"] == params["code_challenge"]
    submitted = httpx.post(
        f"{app.http_url}/oauth2/authorize", data={**hidden, "username": username, "password": password}
    )
    if submitted.status_code != 303:
        return submitted.text
    return submitted.headers["location"]


def test_browser_login_with_pkce_and_refresh(auth_app: AdminApp) -> None:
    _add_user(auth_app, "alice", groups=("ml",))
    grant(auth_app, "group", "ml", "flytesnacks", Role.VIEWER)
    assert "Wrong username or password" in _browser_login(
        auth_app, "http://127.0.0.1:5000/callback", password="no"
    )
    location = _browser_login(auth_app, "http://127.0.0.1:5000/callback")
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    assert location.startswith("http://127.0.0.1:5000/callback?") and query["state"] == "xyz"
    exchange = {
        "grant_type": "authorization_code",
        "client_id": "roost",
        "code": query["code"],
        "redirect_uri": "http://127.0.0.1:5000/callback",
    }
    wrong = httpx.post(_token_url(auth_app), data={**exchange, "code_verifier": "w" * 50})
    assert wrong.json()["error_description"] == "code_verifier does not match the code_challenge"
    again = httpx.post(_token_url(auth_app), data={**exchange, "code_verifier": VERIFIER})
    assert again.json()["error_description"] == "the authorization code is unknown or was used already"

    location = _browser_login(auth_app, "http://127.0.0.1:5000/callback")
    code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))["code"]
    tokens = httpx.post(
        _token_url(auth_app), data={**exchange, "code": code, "code_verifier": VERIFIER}
    ).json()
    assert _projects(auth_app, tokens["access_token"]) == ["flytesnacks"]
    with grpc.insecure_channel(f"127.0.0.1:{auth_app.grpc_port}") as channel:
        me = identity_pb2_grpc.IdentityServiceStub(channel).UserInfo(
            identity_pb2.UserInfoRequest(), metadata=bearer(tokens["access_token"])
        )
    assert (me.subject, me.preferred_username, me.email) == ("alice", "alice", "alice@example.com")
    assert list(me.additional_claims["groups"]) == ["ml"]

    refreshed = httpx.post(
        _token_url(auth_app),
        data={"grant_type": "refresh_token", "client_id": "roost", "refresh_token": tokens["refresh_token"]},
    ).json()
    assert refreshed["refresh_token"] != tokens["refresh_token"]
    reused = httpx.post(
        _token_url(auth_app),
        data={"grant_type": "refresh_token", "client_id": "roost", "refresh_token": tokens["refresh_token"]},
    )
    assert reused.json()["error_description"] == "the refresh token is unknown, revoked or used already"
    httpx.post(f"{auth_app.http_url}/oauth2/revoke", data={"token": refreshed["refresh_token"]})
    revoked = httpx.post(
        _token_url(auth_app),
        data={
            "grant_type": "refresh_token",
            "client_id": "roost",
            "refresh_token": refreshed["refresh_token"],
        },
    )
    assert revoked.status_code == 400


@pytest.mark.parametrize(
    ("client_id", "redirect", "message"),
    [
        ("other", "http://127.0.0.1:5000/cb", "unknown client 'other'"),
        ("roost", "https://evil.example/cb", "redirect_uri 'https://evil.example/cb' is not allowed"),
    ],
)
def test_browser_login_refuses_unknown_clients_and_redirects(
    auth_app: AdminApp, client_id: str, redirect: str, message: str
) -> None:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect,
        "code_challenge": "x",
    }
    page = httpx.get(f"{auth_app.http_url}/oauth2/authorize", params=params)
    assert page.status_code == 400 and message in page.text.replace("&#x27;", "'")


def test_browser_login_requires_pkce(auth_app: AdminApp) -> None:
    params = {
        "response_type": "code",
        "client_id": "roost",
        "redirect_uri": "http://localhost:53593/callback",
    }
    page = httpx.get(f"{auth_app.http_url}/oauth2/authorize", params={**params, "state": "s"})
    assert page.status_code == 303
    assert "code_challenge_method+S256" in page.headers["location"] and "state=s" in page.headers["location"]


def test_device_flow(auth_app: AdminApp) -> None:
    _add_user(auth_app, "bob")
    grant(auth_app, "user", "bob", "*", Role.VIEWER)
    started = httpx.post(
        f"{auth_app.http_url}/oauth2/device_authorization", data={"client_id": "roost"}
    ).json()
    assert started["verification_uri"] == f"{auth_app.http_url}/oauth2/device" and started["interval"] == 5
    poll = {"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "client_id": "roost"}
    poll["device_code"] = started["device_code"]
    assert httpx.post(_token_url(auth_app), data=poll).json()["error"] == "authorization_pending"
    assert httpx.post(_token_url(auth_app), data=poll).json()["error"] == "slow_down"
    page = httpx.get(started["verification_uri_complete"])
    assert started["user_code"] in page.text
    refused = httpx.post(
        started["verification_uri"],
        data={"user_code": started["user_code"], "username": "bob", "password": "no"},
    )
    assert refused.status_code == 401 and "wrong username or password" in refused.text
    approved = httpx.post(
        started["verification_uri"],
        data={
            "user_code": started["user_code"].lower(),
            "username": "bob",
            "password": "pw",
            "decision": "approve",
        },
    )
    assert "Approved" in approved.text
    tokens = httpx.post(_token_url(auth_app), data=poll).json()
    assert "flytesnacks" in _projects(auth_app, tokens["access_token"])
    assert httpx.post(_token_url(auth_app), data=poll).json()["error"] == "invalid_grant"


def test_device_flow_denied(auth_app: AdminApp) -> None:
    _add_user(auth_app, "bob")
    started = httpx.post(
        f"{auth_app.http_url}/oauth2/device_authorization", data={"client_id": "roost"}
    ).json()
    httpx.post(
        started["verification_uri"],
        data={"user_code": started["user_code"], "username": "bob", "password": "pw", "decision": "deny"},
    )
    poll = {"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "client_id": "roost"}
    assert httpx.post(_token_url(auth_app), data={**poll, "device_code": started["device_code"]}).json()[
        "error"
    ] == ("access_denied")


def test_calls_without_a_valid_token_are_unauthenticated(
    auth_app: AdminApp, auth_channel: grpc.Channel
) -> None:
    stub = admin_pb2_grpc.AdminServiceStub(auth_channel)
    request = project_pb2.ProjectListRequest(limit=10)
    missing = error_of(stub.ListProjects, request)
    assert missing.code() == grpc.StatusCode.UNAUTHENTICATED
    assert missing.details().startswith("ListProjects: authentication required: send 'Bearer <access token>'")
    assert error_of(stub.ListProjects, request, (("authorization", "Basic abc"),)).code() == (
        grpc.StatusCode.UNAUTHENTICATED
    )
    garbage = error_of(stub.ListProjects, request, bearer("not-a-jwt"))
    assert garbage.details() == "ListProjects: the bearer token is not a JWT"
    assert auth_app.auth is not None and auth_app.auth.tokens is not None
    expired, _ = auth_app.auth.tokens.access_token("ci", kind="client", client_id="ci", scope="all", ttl=-120)
    assert error_of(stub.ListProjects, request, bearer(expired)).details() == (
        "ListProjects: the bearer token has expired"
    )
    skewed, _ = auth_app.auth.tokens.access_token("ci", kind="client", client_id="ci", scope="all", ttl=-30)
    assert stub.ListProjects(request, metadata=bearer(skewed)) is not None  # within the 60 s clock skew
    no_scope, _ = auth_app.auth.tokens.access_token("ci", kind="client", client_id="ci", scope="openid")
    assert error_of(stub.ListProjects, request, bearer(no_scope)).details() == (
        "ListProjects: the bearer token lacks the 'all' scope"
    )
    assert auth_app.auth.keys is not None
    impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = jwt.decode(token(auth_app, "ci"), options={"verify_signature": False})
    forged = jwt.encode(claims, impostor, algorithm="RS256", headers={"kid": auth_app.auth.keys.kid})
    assert error_of(stub.ListProjects, request, bearer(forged)).details() == (
        "ListProjects: the bearer token's signature does not verify"
    )
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": auth_app.auth.keys.kid})
    assert (
        "not signed with an accepted algorithm"
        in error_of(stub.ListProjects, request, bearer(unsigned)).details()
    )


def test_other_audience_and_foreign_keys_are_refused(tmp_path, database_url: str) -> None:
    first = start_admin(tmp_path / "a", database_url)
    second = start_admin(tmp_path / "b", database_url, auth={"audience": "elsewhere"})
    try:
        with grpc.insecure_channel(f"127.0.0.1:{second.grpc_port}") as channel:
            stub = admin_pb2_grpc.AdminServiceStub(channel)
            foreign = error_of(
                stub.ListProjects, project_pb2.ProjectListRequest(limit=1), bearer(token(first, "ci"))
            )
        assert (
            foreign.details()
            == "ListProjects: the bearer token is signed with a key this server does not know"
        )
    finally:
        first.stop()
        second.stop()


def test_auth_off_serves_no_auth_services_and_never_unauthenticated(
    app: AdminApp, channel: grpc.Channel
) -> None:
    stub = auth_pb2_grpc.AuthMetadataServiceStub(channel)
    assert error_of(stub.GetPublicClientConfig, auth_pb2.PublicClientAuthConfigRequest()).code() == (
        grpc.StatusCode.UNIMPLEMENTED
    )
    admin = admin_pb2_grpc.AdminServiceStub(channel)
    assert admin.ListProjects(project_pb2.ProjectListRequest(limit=5), metadata=bearer("garbage")).projects


def test_http_routes_need_a_token_unless_public(auth_app: AdminApp) -> None:
    from roost_admin.api.bindings import bindings
    from roost_admin.auth.http_policy import is_public, policy_of
    from roost_admin.auth.rules import RULES
    from roost_admin.http import build_http_app

    policies = set()
    for route in build_http_app(auth_app.services, auth_app.auth).routes:
        path = getattr(route, "path", "").replace("{path:path}", "x")
        policy = policy_of(path)
        assert policy is not None, f"HTTP route {path} has no policy"
        assert is_public(path) == (policy in ("public", "signed"))
        policies.add(policy)
    assert policies == {"public", "signed", "authorized"}
    # every API route serves an operation whose rule says which role it needs
    assert all(binding.operation in RULES for binding in bindings())
    assert httpx.get(f"{auth_app.http_url}/healthz").status_code == 200
    for path in ("/api/v1/openapi.json", "/api/v1/projects", "/api/v1/events/executions/p/d/x"):
        refused = httpx.get(f"{auth_app.http_url}{path}")
        assert refused.status_code == 401, path
    hidden = httpx.get(f"{auth_app.http_url}/anything")
    assert hidden.status_code == 401 and hidden.headers["www-authenticate"] == 'Bearer realm="roost"'
    assert (
        httpx.get(
            f"{auth_app.http_url}/anything", headers={"Authorization": f"Bearer {token(auth_app, 'x')}"}
        ).status_code
        == 404
    )
    unsigned = httpx.get(f"{auth_app.http_url}/data/x")
    assert unsigned.status_code == 403 and "not a signed URL" in unsigned.text
