"""flyteidl's AuthMetadataService (public: what a client reads to log in) and IdentityService (who the caller
is), served when auth is on. With auth off neither is registered, so both answer UNIMPLEMENTED as flyteadmin's
do, and flytekit never starts a login."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import grpc
from flyteidl.service import auth_pb2, auth_pb2_grpc, identity_pb2, identity_pb2_grpc
from google.protobuf import json_format, struct_pb2

from roost_admin.auth.interceptor import CURRENT_PRINCIPAL
from roost_admin.auth.tokens import IssuerUnavailable
from roost_admin.errors import Unavailable
from roost_admin.server.errors import rpc

if TYPE_CHECKING:
    from roost_admin.auth.gate import AuthGate

_STANDARD_CLAIMS = {"sub", "name", "preferred_username", "given_name", "family_name", "email", "picture"}
_TOKEN_CLAIMS = {"iss", "aud", "exp", "iat", "nbf", "jti", "scope", "scp", "client_id", "azp", "cid"}


class AuthMetadataService(auth_pb2_grpc.AuthMetadataServiceServicer):  # type: ignore[misc]  # flyteidl is untyped
    """The OAuth2 metadata and the public client's settings."""

    def __init__(self, gate: AuthGate) -> None:
        self.gate = gate

    @rpc
    def GetOAuth2Metadata(
        self, request: auth_pb2.OAuth2MetadataRequest, context: grpc.ServicerContext
    ) -> auth_pb2.OAuth2MetadataResponse:
        """The authorization server's metadata (RFC 8414): the built-in server's, or the external issuer's."""
        from roost_admin.auth.authorization_server import metadata

        if self.gate.builtin:
            document = metadata(self.gate)
        else:
            assert self.gate.verifier.external is not None
            try:
                document = self.gate.verifier.external.metadata()
            except IssuerUnavailable as exc:
                raise Unavailable(str(exc)) from None
        response = auth_pb2.OAuth2MetadataResponse()
        json_format.ParseDict(document, response, ignore_unknown_fields=True)
        return response

    @rpc
    def GetPublicClientConfig(
        self, request: auth_pb2.PublicClientAuthConfigRequest, context: grpc.ServicerContext
    ) -> auth_pb2.PublicClientAuthConfigResponse:
        """How clients log people in: the public client id, redirect URI, scopes, and the metadata key."""
        client = self.gate.settings.public_client
        return auth_pb2.PublicClientAuthConfigResponse(
            client_id=client.client_id,
            redirect_uri=client.redirect_uri,
            scopes=client.scopes,
            authorization_metadata_key=self.gate.settings.authorization_metadata_key,
            service_http_endpoint=self.gate.http_url,
            audience=client.audience,
        )


class IdentityService(identity_pb2_grpc.IdentityServiceServicer):  # type: ignore[misc]  # flyteidl is untyped
    """UserInfo: the caller, from its token."""

    @rpc
    def UserInfo(
        self, request: identity_pb2.UserInfoRequest, context: grpc.ServicerContext
    ) -> identity_pb2.UserInfoResponse:
        """The caller's subject, names and email, and its other identity claims."""
        principal = CURRENT_PRINCIPAL.get()
        assert principal is not None, "IdentityService is served only with auth on"
        claims: dict[str, Any] = dict(principal.claims)
        additional = struct_pb2.Struct()
        additional.update(
            {
                k: v
                for k, v in claims.items()
                if k not in _STANDARD_CLAIMS | _TOKEN_CLAIMS and not k.startswith("roost_")
            }
        )
        return identity_pb2.UserInfoResponse(
            subject=principal.subject,
            name=str(claims.get("name", "")),
            preferred_username=str(claims.get("preferred_username", principal.name)),
            given_name=str(claims.get("given_name", "")),
            family_name=str(claims.get("family_name", "")),
            email=str(claims.get("email", "")),
            picture=str(claims.get("picture", "")),
            additional_claims=additional,
        )


def add_auth_services(gate: AuthGate, server: grpc.Server) -> None:
    """Register AuthMetadataService and IdentityService (served only with auth on)."""
    auth_pb2_grpc.add_AuthMetadataServiceServicer_to_server(AuthMetadataService(gate), server)
    identity_pb2_grpc.add_IdentityServiceServicer_to_server(IdentityService(), server)
