"""The authorization table covers every RPC, and each role gets exactly what it should on each RPC: every RPC
is called by principals holding each role (and none, and a role on another project), on SQLite and
PostgreSQL."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import grpc
import pytest
from auth_support import bearer, code_of, error_of, grant, token
from flyteidl.service import admin_pb2, auth_pb2, dataproxy_pb2, identity_pb2, signal_pb2
from google.protobuf import message_factory

from roost_admin.app import AdminApp
from roost_admin.auth.roles import Grants, Principal, Role
from roost_admin.auth.rules import RULES, Rule, scopes
from roost_admin.server.roost_service import METHODS as ROOST_METHODS

SERVICES = [
    service
    for module in (admin_pb2, dataproxy_pb2, signal_pb2, auth_pb2, identity_pb2)
    for service in module.DESCRIPTOR.services_by_name.values()
]
METHODS: dict[str, Any] = {
    f"/{service.full_name}/{method.name}": method for service in SERVICES for method in service.methods
}
# Roost's own service beside flyteidl's: what the table needs of a method is its request type.
METHODS.update(
    {name: SimpleNamespace(input_type=request.DESCRIPTOR) for name, request in ROOST_METHODS.items()}
)
PROJECT, DOMAIN = "alpha", "development"


def test_every_rpc_has_a_rule() -> None:
    missing = sorted(set(METHODS) - set(RULES))
    assert not missing, f"RPCs without an authorization rule (add them to roost_admin.auth.rules): {missing}"
    unknown = sorted(set(RULES) - set(METHODS))
    assert not unknown, f"rules for RPCs that do not exist: {unknown}"


def test_an_rpc_without_a_rule_is_refused(auth_app: AdminApp, monkeypatch: pytest.MonkeyPatch) -> None:
    method = "/flyteidl.service.AdminService/GetDomains"
    request = _request(method)
    monkeypatch.delitem(RULES, method)
    grant(auth_app, "client", "root", "*", Role.ADMIN)
    with grpc.insecure_channel(f"127.0.0.1:{auth_app.grpc_port}") as channel:
        call = channel.unary_unary(method, lambda m: m.SerializeToString(), lambda b: b)
        error = error_of(call, request, bearer(token(auth_app, "root")))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "has no authorization rule" in error.details()


def _request(method: str) -> object:
    """A request of the method's type naming project alpha and domain development wherever the rule looks."""
    descriptor = METHODS[method]
    request = message_factory.GetMessageClass(descriptor.input_type)()
    rule = RULES[method]
    for path in rule.paths:
        *parents, last = path.split(".")
        message = request
        for part in parents:
            message = getattr(message, part)
        setattr(message, last, PROJECT)
        if "domain" in message.DESCRIPTOR.fields_by_name:
            message.domain = DOMAIN
    if "native_url" in request.DESCRIPTOR.fields_by_name:
        request.native_url = "STORAGE/executions/alpha/development/e1/n0/outputs.pb"
    if "flyte_url" in request.DESCRIPTOR.fields_by_name:
        request.flyte_url = "flyte://v1/alpha/development/e1/n0/o"
    return request


@pytest.mark.parametrize("method", sorted(RULES))
def test_rule_paths_name_project_fields(method: str) -> None:
    rule = RULES[method]
    request = _request(method)
    found = scopes(rule, request, "STORAGE")
    if rule.role is None or rule.public:
        assert not rule.paths
    elif rule.paths or rule.scope_of is not None:
        assert found[0] == (PROJECT, DOMAIN) or found[0] == (PROJECT, ""), f"{method}: {found}"


@pytest.mark.parametrize(
    "native_url",
    [
        "file:///srv/roost/uploads/alpha/development/ab12/data.csv",
        # How the DataProxy names a blob of the local store to clients (flytekit records it in literals so).
        "/srv/roost/uploads/alpha/development/ab12/data.csv",
    ],
)
def test_a_download_location_is_scoped_by_the_project_of_its_blob(native_url: str) -> None:
    method = "/flyteidl.service.DataProxyService/CreateDownloadLocation"
    request = dataproxy_pb2.CreateDownloadLocationRequest(native_url=native_url)
    assert scopes(RULES[method], request, "file:///srv/roost") == [(PROJECT, DOMAIN)]
    assert scopes(RULES[method], request, "file:///srv/other") == [("", "")]


PRINCIPALS: dict[str, tuple[str, Role] | None] = {
    "nobody": None,
    "viewer": (PROJECT, Role.VIEWER),
    "launcher": (PROJECT, Role.LAUNCHER),
    "editor": (PROJECT, Role.EDITOR),
    "admin": (PROJECT, Role.ADMIN),
    "other-admin": ("beta", Role.ADMIN),
    "global-viewer": ("*", Role.VIEWER),
    "global-admin": ("*", Role.ADMIN),
}


def _allowed(rule: Rule, binding: tuple[str, Role] | None, *, execution: bool = False) -> bool:
    if rule.role is None:
        return True
    if execution:
        grants = Grants.of(
            Principal("execution", "e", "e", restriction=(PROJECT, DOMAIN)), [(PROJECT, Role.LAUNCHER)]
        )
        return grants.allows(rule.role, PROJECT if (rule.paths or rule.scope_of) else "", DOMAIN)
    if binding is None:
        return False
    project, role = binding
    names_project = bool(rule.paths or rule.scope_of)
    return role >= rule.role and (project == "*" or (names_project and project == PROJECT))


def test_each_role_on_each_rpc(auth_app: AdminApp, auth_channel: grpc.Channel) -> None:
    tokens = {}
    for name, binding in PRINCIPALS.items():
        if binding is not None:
            grant(auth_app, "client", name, *binding)
        tokens[name] = token(auth_app, name)
    tokens["execution"] = token(
        auth_app,
        "execution/alpha/development/e1",
        kind="execution",
        roost_project=PROJECT,
        roost_domain=DOMAIN,
    )
    prefix = auth_app.settings.storage_prefix
    wrong = []
    for method in sorted(RULES):
        rule = RULES[method]
        request = _request(method)
        if "native_url" in request.DESCRIPTOR.fields_by_name:
            request.native_url = request.native_url.replace("STORAGE", prefix)
        call = auth_channel.unary_unary(method, lambda m: m.SerializeToString(), lambda b: b)
        if not rule.public:
            anonymous = code_of(call, request)
            if anonymous != grpc.StatusCode.UNAUTHENTICATED:
                wrong.append(f"{method} without a token: {anonymous.name}")
        for name, value in tokens.items():
            code = code_of(call, request, bearer(value))
            allowed = _allowed(rule, PRINCIPALS.get(name), execution=name == "execution")
            refused = code in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED)
            if allowed == refused:
                wrong.append(
                    f"{method} by {name}: {code.name} but {'allowed' if allowed else 'refused'} expected"
                )
    assert not wrong, "\n".join(wrong)


def test_denial_names_the_role_and_project(auth_app: AdminApp, auth_channel: grpc.Channel) -> None:
    grant(auth_app, "client", "watcher", PROJECT, Role.VIEWER)
    call = auth_channel.unary_unary(
        "/flyteidl.service.AdminService/CreateTask", lambda m: m.SerializeToString(), lambda b: b
    )
    error = error_of(
        call, _request("/flyteidl.service.AdminService/CreateTask"), bearer(token(auth_app, "watcher"))
    )
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert (
        error.details()
        == "client 'watcher' may not call CreateTask: it needs the editor role on project 'alpha'"
    )


def test_execution_credential_is_confined_to_its_domain(
    auth_app: AdminApp, auth_channel: grpc.Channel
) -> None:
    value = token(
        auth_app,
        "execution/alpha/development/e1",
        kind="execution",
        roost_project=PROJECT,
        roost_domain=DOMAIN,
    )
    request = _request("/flyteidl.service.AdminService/GetExecution")
    request.id.domain = "production"
    call = auth_channel.unary_unary(
        "/flyteidl.service.AdminService/GetExecution", lambda m: m.SerializeToString(), lambda b: b
    )
    error = error_of(call, request, bearer(value))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "project 'alpha', domain 'production'" in error.details()
