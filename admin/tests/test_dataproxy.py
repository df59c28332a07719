"""The DataProxyService: signed upload and download URLs, used end to end as flytekit uses them."""

from __future__ import annotations

import base64
import datetime
import hashlib
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from conftest import make_settings
from flyteidl.core import identifier_pb2
from flyteidl.service import dataproxy_pb2, dataproxy_pb2_grpc
from google.protobuf import duration_pb2

from roost_admin.app import AdminApp, grpc_options
from roost_admin.db import models
from roost_core.testing.seaweed import SeaweedS3, WeedNotFoundError

BODY = b"a tarball of code" * 1000
MD5 = hashlib.md5(BODY).digest()
MD5_BASE64 = base64.b64encode(MD5).decode()


def fails(call, request) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call(request)
    return info.value


def upload_request(**fields) -> dataproxy_pb2.CreateUploadLocationRequest:
    values = {
        "project": "flytesnacks",
        "domain": "development",
        "filename": "fast0123.tar.gz",
        "content_md5": MD5,
        "add_content_md5_metadata": True,
    }
    values.update(fields)
    return dataproxy_pb2.CreateUploadLocationRequest(**values)


def put(
    url: str, body: bytes = BODY, md5: str | None = MD5_BASE64, extra: dict[str, str] | None = None
) -> httpx.Response:
    """An upload as flytekit sends it: Content-Length and Content-MD5 (or the location's other headers), no
    Content-Type."""
    headers = {"Content-Length": str(len(body)), **(extra or {})}
    if md5 is not None:
        headers["Content-MD5"] = md5
    return httpx.put(url, content=body, headers=headers)


def local_path(native_url: str) -> Path:
    """The file a native URL of the local store names: its plain absolute path."""
    assert native_url.startswith("/"), native_url
    return Path(native_url)


def test_upload_then_download_through_the_admin(app, dataproxy):
    location = dataproxy.CreateUploadLocation(upload_request())
    prefix = app.settings.storage_prefix
    # The local store's blobs are named by their plain paths, which flytekit can open (it cannot open file://
    # URIs of FlyteFile and FlyteDirectory literals).
    folder = prefix.removeprefix("file://")
    assert location.native_url == f"{folder}/uploads/flytesnacks/development/{MD5.hex()}/fast0123.tar.gz"
    assert location.signed_url.startswith(f"{app.http_url}/data/")
    assert dict(location.headers) == {"Content-MD5": MD5_BASE64}
    remaining = location.expires_at.ToDatetime(tzinfo=datetime.UTC) - datetime.datetime.now(datetime.UTC)
    assert datetime.timedelta(minutes=59) < remaining <= datetime.timedelta(hours=1)

    response = put(location.signed_url)
    assert response.status_code == 200, response.text
    # pyflyte-fast-execute downloads the native URL with its own storage layer: a plain local file.
    assert local_path(location.native_url).read_bytes() == BODY

    # Downloads take the native URL, or the blob's file:// URI.
    for native_url in (location.native_url, f"file://{location.native_url}"):
        download = dataproxy.CreateDownloadLocation(
            dataproxy_pb2.CreateDownloadLocationRequest(native_url=native_url)
        )
        fetched = httpx.get(download.signed_url)
        assert fetched.status_code == 200
        assert fetched.content == BODY

    # The same content again (a re-registration) goes to the same place and succeeds.
    again = dataproxy.CreateUploadLocation(upload_request())
    assert again.native_url == location.native_url
    assert put(again.signed_url).status_code == 200


def test_uploads_named_by_root_do_not_replace_other_content(app, dataproxy):
    request = upload_request(filename_root="inputs", filename="data.bin")
    location = dataproxy.CreateUploadLocation(request)
    assert location.native_url.endswith("/uploads/flytesnacks/development/inputs/data.bin")
    assert put(location.signed_url).status_code == 200
    assert dataproxy.CreateUploadLocation(request).native_url == location.native_url  # same content: fine

    other = upload_request(
        filename_root="inputs", filename="data.bin", content_md5=hashlib.md5(b"other").digest()
    )
    error = fails(dataproxy.CreateUploadLocation, other)
    assert (error.code(), error.details()) == (
        grpc.StatusCode.ALREADY_EXISTS,
        f"a file with different content already exists at {location.native_url}",
    )
    unhashed = upload_request(filename_root="inputs", filename="data.bin", content_md5=b"")
    error = fails(dataproxy.CreateUploadLocation, unhashed)
    assert (error.code(), error.details()) == (
        grpc.StatusCode.ALREADY_EXISTS,
        f"a file already exists at {location.native_url}; send its content_md5 to upload it again",
    )


def test_an_upload_without_md5_gets_a_random_name_and_a_url_used_once(app, dataproxy):
    # FlyteRemote's file system sends only filename_root, and no Content-MD5 on the PUT.
    location = dataproxy.CreateUploadLocation(
        dataproxy_pb2.CreateUploadLocationRequest(
            project="flytesnacks", domain="development", filename_root="df"
        )
    )
    assert dict(location.headers) == {"If-None-Match": "*"}
    name = location.native_url.rsplit("/", 1)[1]
    assert len(name) == 20 and name.isalnum()
    remaining = location.expires_at.ToDatetime(tzinfo=datetime.UTC) - datetime.datetime.now(datetime.UTC)
    assert datetime.timedelta(minutes=14) < remaining <= datetime.timedelta(minutes=15)
    assert put(location.signed_url, md5=None).status_code == 200
    assert local_path(location.native_url).read_bytes() == BODY
    # Replaying the URL cannot overwrite the object.
    replay = put(location.signed_url, body=b"overwritten", md5=None)
    assert replay.status_code == 403
    assert local_path(location.native_url).read_bytes() == BODY


def test_a_hashed_upload_url_stores_only_those_bytes(app, dataproxy):
    location = dataproxy.CreateUploadLocation(upload_request())
    assert put(location.signed_url).status_code == 200
    forged = base64.b64encode(hashlib.md5(b"evil").digest()).decode()
    assert put(location.signed_url, body=b"evil", md5=forged).status_code == 403
    assert put(location.signed_url, body=b"evil", md5=None).status_code == 403
    assert local_path(location.native_url).read_bytes() == BODY


@pytest.mark.parametrize(
    ("fields", "code", "message"),
    [
        ({"project": ""}, grpc.StatusCode.INVALID_ARGUMENT, "upload project is required"),
        (
            {"project": "nope"},
            grpc.StatusCode.NOT_FOUND,
            "project 'nope' does not exist; create it first (roost create project nope)",
        ),
        (
            {"domain": "qa"},
            grpc.StatusCode.NOT_FOUND,
            "upload domain 'qa' does not exist; domains: development, staging, production",
        ),
        ({"content_md5": b""}, grpc.StatusCode.INVALID_ARGUMENT, "content_md5 or filename_root is required"),
        (
            {"content_md5": b"short"},
            grpc.StatusCode.INVALID_ARGUMENT,
            "content_md5 must be the 16 bytes of an MD5 digest, not 5 bytes",
        ),
        (
            {"filename": "../../etc/passwd"},
            grpc.StatusCode.INVALID_ARGUMENT,
            "filename '../../etc/passwd' is not valid: use '/'-separated names without empty, '.' or '..' parts",
        ),
        (
            {"filename_root": "/abs"},
            grpc.StatusCode.INVALID_ARGUMENT,
            "filename_root '/abs' is not valid: use '/'-separated names without empty, '.' or '..' parts",
        ),
        (
            {"expires_in": duration_pb2.Duration(seconds=8 * 24 * 3600)},
            grpc.StatusCode.INVALID_ARGUMENT,
            "expires_in 691200s is longer than the limit of 604800s",
        ),
        (
            {"expires_in": duration_pb2.Duration(seconds=-5)},
            grpc.StatusCode.INVALID_ARGUMENT,
            "expires_in must be positive, not -5s",
        ),
    ],
    ids=[
        "no-project",
        "unknown-project",
        "unknown-domain",
        "no-md5-or-root",
        "short-md5",
        "traversal",
        "absolute",
        "too-long",
        "negative",
    ],
)
def test_bad_upload_requests(dataproxy, fields, code, message):
    error = fails(dataproxy.CreateUploadLocation, upload_request(**fields))
    assert (error.code(), error.details()) == (code, message)


def test_downloads_are_signed_only_inside_the_admin_storage(app, dataproxy):
    prefix = app.settings.storage_prefix
    folder = prefix.removeprefix("file://")
    outside = ("file:///etc/passwd", f"{prefix}/../../etc/passwd", "s3://bucket/key", "/etc/passwd")
    for uri in (*outside, f"{folder}/../../etc/passwd", "relative/path"):
        error = fails(
            dataproxy.CreateDownloadLocation, dataproxy_pb2.CreateDownloadLocationRequest(native_url=uri)
        )
        assert (error.code(), error.details()) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            f"{uri} is not under this admin's storage ({prefix}); only its blobs are signed",
        )
    for missing in (f"{prefix}/uploads/none", f"{folder}/uploads/none"):
        error = fails(
            dataproxy.CreateDownloadLocation, dataproxy_pb2.CreateDownloadLocationRequest(native_url=missing)
        )
        assert (error.code(), error.details()) == (grpc.StatusCode.NOT_FOUND, f"no blob at {missing}")
    error = fails(dataproxy.CreateDownloadLocation, dataproxy_pb2.CreateDownloadLocationRequest())
    assert (error.code(), error.details()) == (grpc.StatusCode.INVALID_ARGUMENT, "native_url is required")


def _node(execution: str = "exec1", node: str = "n0") -> identifier_pb2.NodeExecutionIdentifier:
    return identifier_pb2.NodeExecutionIdentifier(
        node_id=node,
        execution_id=identifier_pb2.WorkflowExecutionIdentifier(
            project="flytesnacks", domain="development", name=execution
        ),
    )


def _deck_request(**fields) -> dataproxy_pb2.CreateDownloadLinkRequest:
    values = {"artifact_type": dataproxy_pb2.ARTIFACT_TYPE_DECK, "node_execution_id": _node()}
    values.update(fields)
    return dataproxy_pb2.CreateDownloadLinkRequest(**values)


def test_download_links_to_a_node_deck(app, dataproxy):
    outputs = f"{app.settings.storage_prefix}/executions/flytesnacks/development/exec1/n0/0/outputs.pb"
    with app.db.begin() as session:
        execution = models.Execution(project="flytesnacks", domain="development", name="exec1", spec_uri="")
        session.add(execution)
        session.flush()
        session.add(models.NodeExecution(execution_id=execution.id, node_id="n0", output_uri=outputs))
        session.add(models.NodeExecution(execution_id=execution.id, node_id="n1"))

    error = fails(dataproxy.CreateDownloadLink, _deck_request())
    deck = outputs.rsplit("/", 1)[0] + "/deck.html"
    assert (error.code(), error.details()) == (
        grpc.StatusCode.NOT_FOUND,
        f"node execution 'flytesnacks/development/exec1/n0' wrote no deck ({deck})",
    )

    app.storage.write(deck, b"<html>deck</html>")
    link = dataproxy.CreateDownloadLink(_deck_request())
    assert link.signed_url == link.pre_signed_urls.signed_url
    assert httpx.get(link.pre_signed_urls.signed_url[0]).content == b"<html>deck</html>"

    for request, code, message in [
        (
            _deck_request(node_execution_id=_node(node="n1")),
            grpc.StatusCode.NOT_FOUND,
            "node execution 'flytesnacks/development/exec1/n1' has no outputs yet, so no deck",
        ),
        (
            _deck_request(node_execution_id=_node(node="n9")),
            grpc.StatusCode.NOT_FOUND,
            "node execution 'flytesnacks/development/exec1/n9' does not exist",
        ),
        (
            _deck_request(node_execution_id=_node(execution="exec9")),
            grpc.StatusCode.NOT_FOUND,
            "execution 'flytesnacks/development/exec9' does not exist",
        ),
        (
            _deck_request(artifact_type=dataproxy_pb2.ARTIFACT_TYPE_UNDEFINED),
            grpc.StatusCode.INVALID_ARGUMENT,
            "artifact_type must be ARTIFACT_TYPE_DECK, not ARTIFACT_TYPE_UNDEFINED",
        ),
        (
            dataproxy_pb2.CreateDownloadLinkRequest(artifact_type=dataproxy_pb2.ARTIFACT_TYPE_DECK),
            grpc.StatusCode.INVALID_ARGUMENT,
            "source is required: set node_execution_id",
        ),
    ]:
        error = fails(dataproxy.CreateDownloadLink, request)
        assert (error.code(), error.details()) == (code, message)


@pytest.fixture(scope="module")
def s3_server() -> Iterator[SeaweedS3]:
    """A SeaweedFS S3 server with one bucket."""
    server = SeaweedS3(buckets=["roost"])
    try:
        server.start()
    except WeedNotFoundError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_app(tmp_path, s3_server) -> Iterator[AdminApp]:
    """An admin keeping its blobs in S3 (and its rows in SQLite)."""
    settings = make_settings(
        tmp_path,
        f"sqlite:///{tmp_path / 'roost.db'}",
        storage=f"s3://roost/{tmp_path.name}",
        storage_options={"s3": s3_server.store_config()},
    )
    app = AdminApp(settings)
    app.start()
    try:
        yield app
    finally:
        app.stop()


def test_upload_to_s3_with_a_presigned_url(s3_app):
    with grpc.insecure_channel(
        f"127.0.0.1:{s3_app.grpc_port}", options=grpc_options(s3_app.settings)
    ) as channel:
        dataproxy = dataproxy_pb2_grpc.DataProxyServiceStub(channel)
        location = dataproxy.CreateUploadLocation(upload_request())
        assert location.native_url == (
            f"{s3_app.settings.storage_prefix}/uploads/flytesnacks/development/{MD5.hex()}/fast0123.tar.gz"
        )
        assert location.signed_url.startswith(s3_app.settings.storage_options["s3"]["endpoint_url"])

        wrong = put(location.signed_url, body=b"something else")
        assert wrong.status_code in (400, 403)  # S3 refuses a body that does not match the signed Content-MD5
        assert not s3_app.storage.exists(location.native_url)

        assert put(location.signed_url).status_code == 200
        assert s3_app.storage.read(location.native_url) == BODY
        download = dataproxy.CreateDownloadLocation(
            dataproxy_pb2.CreateDownloadLocationRequest(native_url=location.native_url)
        )
        assert httpx.get(download.signed_url).content == BODY


def test_an_unhashed_s3_upload_url_only_creates(s3_app):
    with grpc.insecure_channel(
        f"127.0.0.1:{s3_app.grpc_port}", options=grpc_options(s3_app.settings)
    ) as channel:
        dataproxy = dataproxy_pb2_grpc.DataProxyServiceStub(channel)
        location = dataproxy.CreateUploadLocation(
            dataproxy_pb2.CreateUploadLocationRequest(
                project="flytesnacks", domain="development", filename_root="df"
            )
        )
        headers = dict(location.headers)
        assert headers == {"If-None-Match": "*"}
        # The condition is signed into the URL: leaving the header out is refused.
        assert put(location.signed_url, md5=None).status_code == 403
        assert put(location.signed_url, md5=None, extra=headers).status_code == 200
        replay = put(location.signed_url, body=b"overwritten", md5=None, extra=headers)
        assert replay.status_code == 412
        assert s3_app.storage.read(location.native_url) == BODY
