"""The client side of auth that needs no admin: the owner-only token store, and OAuth error answers turned
into messages that never quote the secret."""

from __future__ import annotations

import json
import stat
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from roost.remote import auth


@pytest.fixture(autouse=True)
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ROOST_CLIENT_CONFIG", str(tmp_path / "roost" / "config.yaml"))
    return tmp_path / "roost"


def test_tokens_are_kept_owner_only(config_home: Path) -> None:
    store = auth.TokenStore("dns:///admin.example.com:443")
    assert store.path == config_home / "tokens" / "admin.example.com_443.json"
    assert store.load() is None
    store.save(
        auth.Tokens(access_token="a", expires_at=1.0, token_endpoint="https://x/token", refresh_token="r")
    )
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700
    loaded = store.load()
    assert loaded is not None and loaded.refresh_token == "r" and loaded.expired
    assert store.delete() and not store.delete()


@pytest.fixture
def token_endpoint() -> Iterator[str]:
    """A token endpoint refusing every request as RFC 6749 says (and echoing nothing of the request)."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            body = json.dumps(
                {"error": "invalid_client", "error_description": "unknown client 'ci'"}
            ).encode()
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/token"
    server.shutdown()
    server.server_close()


def test_oauth_errors_become_messages(token_endpoint: str) -> None:
    metadata = auth.AuthMetadata(token_endpoint=token_endpoint)
    with pytest.raises(auth.OAuthFailure) as failure:
        auth.client_credentials(metadata, "ci", "top-secret")
    assert str(failure.value) == "invalid_client: unknown client 'ci'"
    assert failure.value.error == "invalid_client"
    with pytest.raises(auth.LoginError, match=r"cannot reach http://127\.0\.0\.1:9/token"):
        auth.client_credentials(
            auth.AuthMetadata(token_endpoint="http://127.0.0.1:9/token"), "ci", "top-secret"
        )
