"""``roost login`` / ``roost logout`` and the ``roost`` client's tokens, against a running admin with auth on:
the device flow, the browser flow, client credentials, owner-only token files, refresh, revocation."""

from __future__ import annotations

import re
import stat
import threading
import time
from pathlib import Path

import httpx
import pytest
from auth_support import grant
from click.testing import CliRunner

from roost.cli import main
from roost.remote.auth import TokenStore
from roost.remote.client import RemoteClient
from roost_admin.app import AdminApp
from roost_admin.auth import directory
from roost_admin.auth.roles import Role


@pytest.fixture
def client_env(auth_app: AdminApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The roost CLI pointed at the admin, with its config folder under tmp_path."""
    monkeypatch.setenv("ROOST_ENDPOINT", f"127.0.0.1:{auth_app.grpc_port}")
    monkeypatch.setenv("ROOST_CLIENT_CONFIG", str(tmp_path / "client" / "config.yaml"))
    monkeypatch.delenv("ROOST_CLIENT_ID", raising=False)
    monkeypatch.delenv("ROOST_CLIENT_SECRET", raising=False)
    with auth_app.db.begin() as session:
        directory.create_user(session, "carol", "pw", groups=["ml"])
    grant(auth_app, "group", "ml", "flytesnacks", Role.VIEWER)
    return tmp_path / "client"


def _roost(*args: str, input: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), input=input)
    return result.exit_code, result.output


def _projects() -> list[str]:
    with RemoteClient() as client:
        return [project.id for project in client.list("projects", "", "")]


def _approve_when_shown(app: AdminApp, output: list[str]) -> threading.Thread:
    """Approve the device code the CLI prints, as a person would in a browser."""

    def approve() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = re.search(r"approve the code (\S+)\.", "".join(output))
            if found:
                httpx.post(
                    f"{app.http_url}/oauth2/device",
                    data={"user_code": found.group(1), "username": "carol", "password": "pw"},
                )
                return
            time.sleep(0.05)

    thread = threading.Thread(target=approve, daemon=True)
    thread.start()
    return thread


def test_device_login_then_calls_then_logout(
    auth_app: AdminApp, client_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, output = _roost("get", "projects")
    assert code != 0 and "UNAUTHENTICATED" in output and "log in with `roost login`" in output
    said: list[str] = []
    monkeypatch.setattr("roost.cli.auth._say", said.append)
    monkeypatch.setattr(auth_app.auth.settings, "device_poll_interval", 0)  # type: ignore[union-attr]
    approver = _approve_when_shown(auth_app, said)
    code, output = _roost("login")
    approver.join()
    assert code == 0, output
    assert "logged in to" in output and "as carol" in output
    store = TokenStore(f"127.0.0.1:{auth_app.grpc_port}")
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700
    assert _projects() == ["flytesnacks"]

    # An expired access token is refreshed with the refresh token (which the server rotates).
    tokens = store.load()
    assert tokens is not None and tokens.refresh_token
    tokens.expires_at = 0
    store.save(tokens)
    assert _projects() == ["flytesnacks"]
    renewed = store.load()
    assert renewed is not None and renewed.refresh_token != tokens.refresh_token

    code, output = _roost("logout")
    assert code == 0 and "logged out of" in output and not store.path.exists()
    reuse = httpx.post(
        f"{auth_app.http_url}/oauth2/token",
        data={"grant_type": "refresh_token", "client_id": "roost", "refresh_token": renewed.refresh_token},
    )
    assert reuse.json()["error"] == "invalid_grant"  # revoked by logout
    assert _roost("logout")[1].startswith("not logged in to")


def test_browser_login(auth_app: AdminApp, client_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def browser(url: str) -> bool:
        def sign_in() -> None:
            page = httpx.get(url)
            hidden = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
            done = httpx.post(
                f"{auth_app.http_url}/oauth2/authorize",
                data={**hidden, "username": "carol", "password": "pw"},
            )
            httpx.get(done.headers["location"])

        threading.Thread(target=sign_in, daemon=True).start()
        return True

    monkeypatch.setattr("webbrowser.open", browser)
    code, output = _roost("login", "--browser", "--port", "0")
    assert code == 0, output
    assert "as carol" in output
    assert _projects() == ["flytesnacks"]


def test_client_credentials(auth_app: AdminApp, client_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with auth_app.db.begin() as session:
        secret = directory.create_client(session, "ci")
    grant(auth_app, "client", "ci", "*", Role.VIEWER)
    code, output = _roost("login", "--client-id", "ci", "--client-secret-stdin", input="wrong\n")
    assert (
        code != 0
        and "unknown client 'ci' or wrong secret" in output
        and "wrong" not in output.split("secret")[-1]
    )
    code, output = _roost("login", "--client-id", "ci", "--client-secret-stdin", input=secret + "\n")
    assert code == 0 and "as ci" in output, output
    _roost("logout")
    # Without a login: ROOST_CLIENT_ID and ROOST_CLIENT_SECRET (what task processes get).
    monkeypatch.setenv("ROOST_CLIENT_ID", "ci")
    monkeypatch.setenv("ROOST_CLIENT_SECRET", secret)
    assert _projects() == ["flytesnacks"]
