"""The admin's HTTP endpoint: health, and the signed upload and download URLs of the local store."""

from __future__ import annotations

import base64
import datetime
import hashlib
import logging
import os
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest

import roost_admin.http

BODY = b"0123456789" * 100
MD5 = base64.b64encode(hashlib.md5(BODY).digest()).decode()


def blob(app, name: str) -> str:
    return f"{app.settings.storage_prefix}/uploads/flytesnacks/development/test/{name}"


def signed(app, uri: str, method: str = "PUT", md5: str | None = MD5, seconds: float = 600) -> str:
    return app.storage.signed_url(
        uri, method=method, expires_in=datetime.timedelta(seconds=seconds), content_md5=md5
    )


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    query = {k: v for k, v in query.items() if v}
    return urlunsplit(parts._replace(query=urlencode(query)))


def path_of(uri: str) -> Path:
    return Path(uri[len("file://") :])


def leftovers(app) -> list[str]:
    root = path_of(app.settings.storage_prefix)
    return [name for _, _, files in os.walk(root) for name in files if name.startswith(".roost-tmp-")]


def test_healthz(app):
    response = httpx.get(f"{app.http_url}/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_a_signed_put_stores_the_body_and_a_signed_get_returns_it(app):
    uri = blob(app, "a/b.bin")
    response = httpx.put(signed(app, uri), content=BODY, headers={"Content-MD5": MD5})
    assert response.status_code == 200
    assert path_of(uri).read_bytes() == BODY
    fetched = httpx.get(signed(app, uri, "GET", md5=None))
    assert (fetched.status_code, fetched.content) == (200, BODY)


def test_a_tampered_signature_is_forbidden(app):
    uri = blob(app, "x.bin")
    url = with_query(signed(app, uri), signature="0" * 64)
    response = httpx.put(url, content=BODY, headers={"Content-MD5": MD5})
    assert response.status_code == 403
    assert response.text == f"signed URL for {uri!r} has a wrong signature (for PUT)"
    assert not path_of(uri).exists()


def test_a_url_for_one_path_does_not_open_another(app):
    url = signed(app, blob(app, "x.bin"))
    other = url.replace("x.bin", "y.bin")
    response = httpx.put(other, content=BODY, headers={"Content-MD5": MD5})
    assert response.status_code == 403
    assert "has a wrong signature (for PUT)" in response.text


def test_an_expired_url_is_forbidden_and_says_so(app):
    uri = blob(app, "late.bin")
    response = httpx.put(signed(app, uri, seconds=-60), content=BODY, headers={"Content-MD5": MD5})
    assert response.status_code == 403
    assert response.text.startswith(f"signed URL for {uri!r} expired at ")


def test_a_get_url_does_not_allow_a_put(app):
    uri = blob(app, "read-only.bin")
    response = httpx.put(signed(app, uri, "GET", md5=None), content=BODY)
    assert response.status_code == 403
    assert response.text == (
        f"signed URL for {uri!r} has a wrong signature (for PUT) "
        "(a URL made for an upload with content_md5 also needs the Content-MD5 header)"
    )


def test_a_body_that_does_not_match_its_md5_is_refused_and_not_stored(app):
    uri = blob(app, "bad.bin")
    response = httpx.put(signed(app, uri), content=b"tampered", headers={"Content-MD5": MD5})
    assert response.status_code == 400
    actual = base64.b64encode(hashlib.md5(b"tampered").digest()).decode()
    assert response.text == (
        f"the body's MD5 is {actual}, not the {MD5} its Content-MD5 header says; nothing was stored"
    )
    assert not path_of(uri).exists()
    assert leftovers(app) == []


def test_a_url_signed_for_an_md5_needs_the_header(app):
    uri = blob(app, "needs-md5.bin")
    response = httpx.put(signed(app, uri), content=BODY)
    assert response.status_code == 403
    assert response.text == (
        f"signed URL for {uri!r} has a wrong signature (for PUT) "
        "(a URL made for an upload with content_md5 also needs the Content-MD5 header)"
    )


def test_a_malformed_md5_header_is_a_bad_request(app):
    uri = blob(app, "garbled.bin")
    response = httpx.put(signed(app, uri, md5=None), content=BODY, headers={"Content-MD5": "not base64!"})
    assert response.status_code == 400
    assert response.text == "Content-MD5 'not base64!' is not the base64 of a 16-byte MD5 digest"


def test_unsigned_requests_and_missing_blobs(app):
    response = httpx.get(f"{app.http_url}/data/etc/passwd")
    assert response.status_code == 403
    assert response.text == "not a signed URL: the expires and signature parameters are required"
    uri = blob(app, "never-written.bin")
    response = httpx.get(signed(app, uri, "GET", md5=None))
    assert (response.status_code, response.text) == (404, f"no blob at {uri}")


def test_signed_urls_outside_the_storage_are_not_served(app, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("private")
    uri = outside.as_uri()
    response = httpx.get(signed(app, uri, "GET", md5=None))
    assert response.status_code == 403
    assert response.text == f"{uri} is not under this admin's storage ({app.settings.storage_prefix})"


def test_a_file_in_the_way_is_a_conflict_and_stores_nothing(app):
    uri = blob(app, "blocked/file.bin")
    folder = path_of(uri).parent
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.write_text("a file where the folder should be")
    response = httpx.put(signed(app, uri), content=BODY, headers={"Content-MD5": MD5})
    assert (response.status_code, response.text) == (
        409,
        f"cannot store {uri}: a file or folder on its path is in the way",
    )
    assert leftovers(app) == []


def test_a_write_the_server_fails_is_a_500_quoting_a_request_id(app, monkeypatch, caplog):
    def disk_refuses(folder: str, temp: str):
        raise PermissionError(13, "Permission denied", temp)

    monkeypatch.setattr(roost_admin.http, "_open_for_writing", disk_refuses)
    uri = blob(app, "refused.bin")
    with caplog.at_level(logging.ERROR, logger="roost_admin"):
        response = httpx.put(signed(app, uri), content=BODY, headers={"Content-MD5": MD5})
    request_id = response.headers["x-request-id"]
    assert (response.status_code, response.text) == (
        500,
        f"the upload could not be stored (request id {request_id})",
    )
    [record] = [r for r in caplog.records if request_id in r.getMessage()]
    assert record.getMessage() == f"storing the upload {uri} failed (request id {request_id})"
    assert "Permission denied" in str(record.exc_info[1])


def test_an_upload_url_stores_its_object_once(app):
    uri = blob(app, "once.bin")
    url = signed(app, uri, md5=None)
    assert httpx.put(url, content=BODY).status_code == 200
    # The same bytes again (a client retrying after a lost answer) succeed; other bytes are refused.
    assert httpx.put(url, content=BODY).status_code == 200
    replay = httpx.put(url, content=b"something else")
    assert (replay.status_code, replay.text) == (
        403,
        f"{uri} already holds other content: an upload URL stores its object once; ask for a new upload location",
    )
    assert path_of(uri).read_bytes() == BODY
    assert leftovers(app) == []


def test_a_body_over_the_upload_limit_is_refused(tmp_path, database_url):
    from conftest import make_settings, started

    with started(make_settings(tmp_path, database_url, max_upload_bytes=100)) as small:
        uri = blob(small, "big.bin")
        expected = (
            413,
            "the body is larger than the upload limit of 100 bytes (setting max_upload_bytes); nothing was stored",
        )
        response = httpx.put(signed(small, uri), content=BODY, headers={"Content-MD5": MD5})
        assert (response.status_code, response.text) == expected
        # A body that does not say its length up front is cut off once it passes the limit.
        streamed = httpx.put(signed(small, uri, md5=None), content=iter([b"x" * 60, b"y" * 60]))
        assert (streamed.status_code, streamed.text) == expected
        assert not path_of(uri).exists()
        assert leftovers(small) == []


@pytest.mark.parametrize(
    ("change", "status", "text"),
    [
        ({"signature": "é" * 64}, 403, "has a wrong signature (for PUT)"),
        ({"expires": "99999999999999999999"}, 403, "has an invalid expires value '99999999999999999999'"),
        ({"expires": "-5"}, 403, "has an invalid expires value '-5'"),
    ],
    ids=["non-ascii-signature", "huge-expiry", "negative-expiry"],
)
def test_odd_query_values_are_forbidden(app, change, status, text):
    uri = blob(app, "odd.bin")
    response = httpx.put(with_query(signed(app, uri), **change), content=BODY, headers={"Content-MD5": MD5})
    assert response.status_code == status
    assert response.text == f"signed URL for {uri!r} {text}"


def test_a_nul_in_the_path_or_a_non_ascii_md5_is_a_bad_request(app):
    url = signed(app, blob(app, "x.bin"))
    response = httpx.get(url.replace("x.bin", "x%00.bin"))
    assert (response.status_code, response.text) == (400, "the path holds a NUL character")
    response = httpx.put(
        signed(app, blob(app, "y.bin"), md5=None), content=BODY, headers={"Content-MD5": b"\xe9t\xe9"}
    )
    assert (response.status_code, response.text) == (
        400,
        "Content-MD5 '\xe9t\xe9' is not the base64 of a 16-byte MD5 digest",
    )


def test_healthz_reports_an_unreachable_database(tmp_path):
    from conftest import make_settings

    from roost_admin.app import AdminApp

    database = tmp_path / "health.db"
    app = AdminApp(make_settings(tmp_path, f"sqlite:///{database}"))
    app.start()
    try:
        app.db.dispose()
        database.rename(tmp_path / "moved.db")
        database.mkdir()  # a folder where the database file was: opening it fails
        response = httpx.get(f"{app.http_url}/healthz")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unavailable"
        assert "unable to open database file" in body["database"]
    finally:
        app.stop()


def test_replies_on_a_kept_alive_connection_are_not_held_back_by_nagle(app):
    """With Nagle's algorithm on, a reply written as headers then body waits for the client's delayed ACK (about
    40 ms a request on a kept-alive connection); the HTTP endpoint's connections have TCP_NODELAY set."""
    import socket

    with httpx.Client(base_url=app.http_url) as client:
        assert client.get("/healthz").status_code == 200
        transports = [connection.transport for connection in app._http.server_state.connections]
        sockets = [transport.get_extra_info("socket") for transport in transports]
        assert sockets, "the kept-alive connection is open"
        assert all(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for sock in sockets)
