"""Signing in to the console in a browser when auth is on (the built-in authorization server, and an external
OpenID Connect issuer): the redirect to sign in, the authorization code flow with PKCE, the session cookie and
its attributes, refusals of cross-site changes, bad callbacks, and signing out. HTTP-level, as a browser would
follow the redirects."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator

import httpx
import pytest
from auth_support import grant
from conftest import make_settings, started

from roost_admin.app import AdminApp
from roost_admin.auth import directory
from roost_admin.auth.console_login import safe_next
from roost_admin.auth.roles import Role
from roost_admin.testing.oidc import TestIssuer

PROJECT = "flytesnacks"


@pytest.fixture
def browser(auth_app: AdminApp) -> Iterator[httpx.Client]:
    """A client that keeps cookies (as a browser does) and does not follow redirects by itself."""
    with auth_app.db.begin() as session:
        directory.create_user(session, "carol", "pw")
    grant(auth_app, "user", "carol", PROJECT, Role.ADMIN)
    with httpx.Client(base_url=auth_app.http_url, timeout=30) as client:
        yield client


def _query(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def _sign_in(app: AdminApp, browser: httpx.Client, page: str, password: str = "pw") -> httpx.Response:
    """Open ``page`` signed out and follow the sign-in as a browser would; the callback's response."""
    sent = browser.get(page)
    assert sent.status_code == 303, sent.text
    login = sent.headers["location"]
    assert login == "/console/login?" + urllib.parse.urlencode({"next": page})
    to_issuer = browser.get(login)
    assert to_issuer.status_code == 303
    authorize = to_issuer.headers["location"]
    params = _query(authorize)
    assert authorize.startswith(f"{app.http_url}/oauth2/authorize?")
    assert params["redirect_uri"] == f"{app.http_url}/console/login/callback"
    assert params["code_challenge_method"] == "S256" and params["client_id"] == "roost"
    form = browser.get(authorize)
    hidden = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', form.text))
    signed = browser.post("/oauth2/authorize", data={**hidden, "username": "carol", "password": password})
    if signed.status_code != 303:
        return signed
    back = signed.headers["location"]
    assert back.startswith(f"{app.http_url}/console/login/callback?")
    return browser.get(back)


def test_a_console_page_sends_the_browser_to_sign_in_and_back(auth_app: AdminApp, browser) -> None:
    page = f"/console/projects/{PROJECT}/domains/development/executions?phase=FAILED"
    done = _sign_in(auth_app, browser, page)
    assert done.status_code == 303 and done.headers["location"] == page, done.text
    cookie = next(
        v for k, v in done.headers.multi_items() if k == "set-cookie" and v.startswith("roost_session=")
    )
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "path", "max-age"} <= attributes and "samesite=lax" in cookie.lower()
    assert "secure" not in attributes, "plain HTTP here; Secure is set under TLS"
    shown = browser.get(page)
    assert shown.status_code == 200 and "Executions" in shown.text
    assert "Sign out" in shown.text
    api = browser.get("/api/v1/projects")
    assert api.status_code == 200 and PROJECT in api.text, (
        "the console's own API calls (live updates) work too"
    )


def test_a_wrong_password_signs_nobody_in(auth_app: AdminApp, browser) -> None:
    refused = _sign_in(auth_app, browser, "/console", password="wrong")
    assert refused.status_code == 401 and "Wrong username or password" in refused.text
    assert "roost_session" not in browser.cookies
    assert browser.get("/console").status_code == 303


def test_changes_need_the_consoles_own_origin(auth_app: AdminApp, browser) -> None:
    _sign_in(auth_app, browser, "/console")
    archive = {"id": {"project": PROJECT, "domain": "development", "name": "none"}, "state": 1}
    path = f"/api/v1/executions/{PROJECT}/development/none"
    foreign = browser.put(path, json=archive, headers={"origin": "https://evil.example"})
    assert foreign.status_code == 403 and "must come from the console's own pages" in foreign.text
    bare = browser.put(path, json=archive)
    assert bare.status_code == 403, "a cookie alone, with no Origin, changes nothing"
    own = browser.put(path, json=archive, headers={"origin": auth_app.http_url})
    assert own.status_code == 404 and "none" in own.text, "from its own origin the request reaches the admin"


def test_the_api_still_answers_401_without_a_session(auth_app: AdminApp, browser) -> None:
    refused = browser.get("/api/v1/projects")
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == 'Bearer realm="roost"'
    posted = browser.post(f"/console/projects/{PROJECT}/domains/development/executions/x/terminate")
    assert posted.status_code == 401, "a form post is not sent to sign in (its body would be lost)"


def test_a_stale_or_forged_session_is_sent_to_sign_in_again(auth_app: AdminApp, browser) -> None:
    browser.cookies.set("roost_session", "forged.token.value")
    again = browser.get("/console")
    assert again.status_code == 303 and again.headers["location"].startswith("/console/login?")
    assert 'roost_session=""' in again.headers["set-cookie"], "the bad cookie is cleared"


@pytest.mark.parametrize(
    ("params", "cookie", "message"),
    [
        (
            {"error": "access_denied", "error_description": "no thanks"},
            True,
            "the sign-in was refused: no thanks",
        ),
        ({"code": "x", "state": "s"}, False, "no sign-in was started in this browser"),
        ({"code": "x", "state": "other"}, True, "does not match the one this browser started"),
        ({"state": "STATE"}, True, "the issuer sent no authorization code"),
        (
            {"code": "made-up", "state": "STATE"},
            True,
            "the authorization code is unknown or was used already",
        ),
    ],
    ids=["refused", "no-cookie", "state", "no-code", "bad-code"],
)
def test_bad_callbacks_say_why(auth_app: AdminApp, browser, params, cookie, message) -> None:
    started_login = browser.get("/console/login", params={"next": "/console"})
    state = _query(started_login.headers["location"])["state"]
    if not cookie:
        browser.cookies.clear()
    sent = {key: value.replace("STATE", state) for key, value in params.items()}
    answer = browser.get("/console/login/callback", params=sent)
    assert answer.status_code == 400 and message in answer.text, answer.text
    assert "Sign in again" in answer.text
    assert "roost_session" not in browser.cookies


def test_signing_out_forgets_the_session(auth_app: AdminApp, browser) -> None:
    _sign_in(auth_app, browser, "/console")
    foreign = browser.post("/console/logout", headers={"origin": "https://evil.example"})
    assert foreign.status_code == 403 and browser.get("/console").status_code == 200
    out = browser.post("/console/logout", headers={"origin": auth_app.http_url})
    assert out.status_code == 200 and "signed out" in out.text
    assert browser.get("/console").status_code == 303


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("/console/projects/p", "/console/projects/p"),
        ("/console?x=1", "/console?x=1"),
        ("https://evil.example/console", "/console"),
        ("//evil.example/console", "/console"),
        ("/api/v1/projects", "/console"),
        ("/console/login?next=/console", "/console"),
        ("/console\\@evil", "/console"),
    ],
)
def test_sign_in_returns_only_to_console_pages(given: str, kept: str) -> None:
    assert safe_next(given) == kept


def test_an_external_issuer_is_where_the_console_sends_people(tmp_path) -> None:
    with TestIssuer() as issuer:
        auth = {"enabled": True, "external": {"issuer": issuer.url, "audience": [issuer.audience]}}
        settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'roost.db'}", auth=auth)
        with started(settings) as app, httpx.Client(base_url=app.http_url) as browser:
            to_issuer = browser.get("/console/login", params={"next": "/console"})
            assert to_issuer.status_code == 303
            authorize = to_issuer.headers["location"]
            assert authorize.startswith(f"{issuer.url}/authorize?")
            params = _query(authorize)
            assert params["redirect_uri"] == f"{app.http_url}/console/login/callback"
            assert params["scope"] == "all offline" and params["code_challenge_method"] == "S256"
            refused = browser.get("/console/login/callback", params={"code": "c", "state": params["state"]})
            assert refused.status_code == 400 and f"{issuer.url} refused the sign-in" in refused.text
