"""``roost login`` and ``roost logout``: get, keep and drop the tokens of an admin that requires them."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from roost.errors import RemoteError


def _say(text: str) -> None:
    click.echo(text, err=True)


@click.command("login")
@click.option("--browser", is_flag=True, help="Sign in in a browser (authorization code with PKCE).")
@click.option(
    "--port",
    type=int,
    default=None,
    help="The loopback port the browser comes back to [default: the admin's redirect URI's; 0: any].",
)
@click.option("--client-id", default=None, help="Log in as this client (client credentials, for CI).")
@click.option(
    "--client-secret-env",
    default="ROOST_CLIENT_SECRET",
    show_default=True,
    help="The variable holding the client's secret.",
)
@click.option("--client-secret-stdin", is_flag=True, help="Read the client's secret from standard input.")
def login(
    browser: bool, port: int | None, client_id: str | None, client_secret_env: str, client_secret_stdin: bool
) -> None:
    """Log in to the configured admin: the device flow (approve a code in any browser) by default, a browser
    sign-in with --browser, or client credentials with --client-id. The tokens are kept owner-only under the
    client config folder and refreshed when they expire."""
    from roost.remote import auth
    from roost.remote.client import open_channel
    from roost.remote.config import ClientConfig

    def act() -> None:
        config = ClientConfig.load()
        channel = open_channel(config)
        try:
            metadata = auth.AuthMetadata.fetch(channel, config.endpoint, config.ca_cert_file)
            if client_id:
                secret = (
                    sys.stdin.readline().strip()
                    if client_secret_stdin
                    else os.environ.get(client_secret_env, "")
                )
                if not secret:
                    raise auth.LoginError(
                        f"no secret for client {client_id!r}: set {client_secret_env} or use --client-secret-stdin"
                    )
                tokens = auth.client_credentials(metadata, client_id, secret, ca_file=config.ca_cert_file)
            elif browser:
                tokens = auth.browser_login(metadata, _say, port=port, ca_file=config.ca_cert_file)
            else:
                tokens = auth.device_login(metadata, _say, ca_file=config.ca_cert_file)
            store = auth.TokenStore(config.endpoint)
            store.save(tokens)
            who = _whoami(channel, tokens)
        finally:
            channel.close()
        click.echo(f"logged in to {config.endpoint} as {who}; tokens kept in {store.path}")

    _guarded(act)


def _whoami(channel: Any, tokens: Any) -> str:
    import grpc
    from flyteidl.service import identity_pb2, identity_pb2_grpc

    try:
        me = identity_pb2_grpc.IdentityServiceStub(channel).UserInfo(
            identity_pb2.UserInfoRequest(),
            metadata=((tokens.header_key, f"Bearer {tokens.access_token}"),),
            timeout=30,
        )
    except grpc.RpcError as exc:
        raise RemoteError(f"the admin refused the new token: {exc.code().name}: {exc.details()}") from None
    return str(me.preferred_username or me.subject)


@click.command("logout")
def logout() -> None:
    """Forget the tokens of the configured admin (and revoke the refresh token)."""
    from roost.remote import auth
    from roost.remote.config import ClientConfig

    def act() -> None:
        config = ClientConfig.load()
        store = auth.TokenStore(config.endpoint)
        tokens = store.load()
        if tokens is not None:
            try:
                auth.revoke(tokens, ca_file=config.ca_cert_file)
            except RemoteError as exc:
                _say(f"could not revoke the refresh token ({exc}); removing it here anyway")
        removed = store.delete()
        click.echo(f"logged out of {config.endpoint}" if removed else f"not logged in to {config.endpoint}")

    _guarded(act)


def _guarded(action: Any) -> None:
    try:
        action()
    except RemoteError as exc:
        raise click.ClickException(str(exc)) from None
