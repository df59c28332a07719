"""S3Store against a real S3 server (SeaweedFS): presigned URLs, error mapping, configuration."""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from blob_backends import make_storage

from roost_core.errors import ConfigurationError
from roost_core.storage import BlobNotFoundError, S3Store, StorageError, upload_headers
from roost_core.storage.s3 import s3_store
from roost_core.testing.seaweed import SeaweedS3

pytestmark = pytest.mark.s3


@pytest.fixture
def store(s3_server: SeaweedS3) -> S3Store:
    return s3_store(s3_server.store_config())


@pytest.fixture
def prefix(s3_bucket: str) -> str:
    return f"s3://{s3_bucket}/{uuid.uuid4().hex}"


def md5_of(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def put(url: str, data: bytes, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url, data=data, method="PUT", headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.status)


def test_presigned_get_downloads_without_credentials(store: S3Store, prefix: str) -> None:
    uri = f"{prefix}/outputs.pb"
    store.write(uri, b"result bytes")
    url = store.signed_url(uri, method="GET", expires_in=timedelta(minutes=5))
    assert "X-Amz-Signature=" in url
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"result bytes"


def test_presigned_put_with_content_md5_uploads(store: S3Store, prefix: str) -> None:
    uri = f"{prefix}/upload/fast.tar.gz"
    body = b"an uploaded package"
    url = store.signed_url(uri, method="PUT", content_md5=md5_of(body))
    assert put(url, body, {"Content-MD5": md5_of(body)}) == 200
    assert store.read(uri) == body


def test_presigned_put_signed_with_content_md5_requires_that_header(store: S3Store, prefix: str) -> None:
    uri = f"{prefix}/upload/strict"
    body = b"the announced body"
    url = store.signed_url(uri, method="PUT", content_md5=md5_of(body))
    with pytest.raises(urllib.error.HTTPError) as missing:
        put(url, body)
    assert missing.value.code == 403
    with pytest.raises(urllib.error.HTTPError) as other_md5:
        put(url, b"another body", {"Content-MD5": md5_of(b"another body")})
    assert other_md5.value.code == 403
    with pytest.raises(urllib.error.HTTPError) as wrong_body:
        put(url, b"another body", {"Content-MD5": md5_of(body)})
    assert wrong_body.value.code == 400
    assert not store.exists(uri)


def test_presigned_put_without_content_md5_accepts_any_body_once(store: S3Store, prefix: str) -> None:
    uri = f"{prefix}/upload/plain"
    url = store.signed_url(uri, method="PUT")
    headers = upload_headers(None)
    assert put(url, b"anything", headers) == 200
    assert store.read(uri) == b"anything"
    with pytest.raises(urllib.error.HTTPError) as replayed:
        put(url, b"overwritten", headers)
    assert replayed.value.code == 412
    with pytest.raises(urllib.error.HTTPError) as unconditional:
        put(url, b"overwritten")
    assert unconditional.value.code == 403
    assert store.read(uri) == b"anything"


def test_only_get_and_put_are_signed(store: S3Store, prefix: str) -> None:
    with pytest.raises(StorageError, match="only GET and PUT URLs are signed") as raised:
        store.signed_url(f"{prefix}/x", method="DELETE")
    assert repr(f"{prefix}/x") in str(raised.value)


def test_a_missing_bucket_has_its_own_message(store: S3Store) -> None:
    uri = "s3://roost-no-such-bucket/run/outputs.pb"
    expected = "bucket 'roost-no-such-bucket' does not exist (S3 NoSuchBucket)"
    for operation in (store.read, store.exists, store.delete, lambda u: store.write(u, b"x")):
        with pytest.raises(StorageError, match=re.escape(expected)) as raised:
            operation(uri)
        assert not isinstance(raised.value, BlobNotFoundError)
        assert repr(uri) in str(raised.value)
    with pytest.raises(StorageError, match=re.escape(expected)):
        store.list("s3://roost-no-such-bucket/run")


def test_a_missing_key_names_uri_and_s3_code(store: S3Store, prefix: str) -> None:
    uri = f"{prefix}/absent"
    with pytest.raises(BlobNotFoundError) as raised:
        store.read(uri)
    assert str(raised.value) == f"no blob at {uri!r} (S3 NoSuchKey)"


def test_wrong_credentials_give_the_s3_error_code(s3_server: SeaweedS3, prefix: str) -> None:
    config = {**s3_server.store_config(), "secret_access_key": "not-the-secret", "max_attempts": 1}
    store = s3_store(config)
    with pytest.raises(StorageError, match=r"cannot write .*: S3 SignatureDoesNotMatch") as raised:
        store.write(f"{prefix}/x", b"1")
    assert repr(f"{prefix}/x") in str(raised.value)


def test_an_unreachable_endpoint_names_the_uri(prefix: str) -> None:
    store = S3Store(
        endpoint_url="http://127.0.0.1:9",
        access_key_id="k",
        secret_access_key="s",
        addressing_style="path",
        max_attempts=1,
    )
    with pytest.raises(StorageError, match=r"cannot read .*: Could not connect") as raised:
        store.read(f"{prefix}/x")
    assert repr(f"{prefix}/x") in str(raised.value)


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("s3:///key", "names no bucket: expected s3://bucket/key"),
        ("s3://bucket", "names a folder, not an object"),
        ("s3://bucket/folder/", "names a folder, not an object"),
        ("file:///tmp/x", "is not an s3:// URI"),
    ],
)
def test_malformed_uris_are_refused(store: S3Store, uri: str, message: str) -> None:
    with pytest.raises(StorageError, match=message) as raised:
        store.read(uri)
    assert repr(uri) in str(raised.value)


def test_the_whole_bucket_can_be_listed(s3_server: SeaweedS3) -> None:
    bucket = f"roost-list-{uuid.uuid4().hex[:8]}"
    s3_server.create_bucket(bucket)
    store = s3_store(s3_server.store_config())
    for key in ("b/1", "a", "b.txt"):
        store.write(f"s3://{bucket}/{key}", b"")
    expected = [f"s3://{bucket}/a", f"s3://{bucket}/b.txt", f"s3://{bucket}/b/1"]
    assert list(store.list(f"s3://{bucket}")) == expected
    assert list(store.list(f"s3://{bucket}/")) == expected


def test_listing_pages_through_many_objects(store: S3Store, prefix: str) -> None:
    # 1,000 keys is one page on S3; more proves the pages are followed.
    uris = [f"{prefix}/many/{i:05d}" for i in range(1_050)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda uri: store.write(uri, b""), uris))
    assert list(store.list(f"{prefix}/many")) == uris


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"endpoint": "http://x"},
            "unknown s3 storage option(s) endpoint; known: access_key_id, "
            "addressing_style, endpoint_url, max_attempts, region, "
            "secret_access_key",
        ),
        ({"access_key_id": "k"}, "needs access_key_id and secret_access_key together"),
        ({"addressing_style": "sideways"}, "addressing_style 'sideways' is not one of auto, path, virtual"),
        ({"max_attempts": 0}, "max_attempts must be at least 1, not 0"),
        ({"max_attempts": "3"}, "max_attempts must be an integer, not '3'"),
        ({"region": 5}, "s3 storage option region must be a string"),
    ],
)
def test_bad_configuration_is_refused(config: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        s3_store(config)
    assert message in str(raised.value)


def test_without_boto3_the_error_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    store = S3Store()
    with pytest.raises(StorageError, match=r"needs boto3: pip install 'roost-core\[s3\]'"):
        store.read("s3://bucket/key")


def test_building_storage_does_not_import_boto3() -> None:
    code = (
        "import sys\n"
        "from roost_core.plugins import EnginePlugins\n"
        "from roost_core.storage import build_storage\n"
        "storage = build_storage(EnginePlugins(entry_points=False), {'s3': {'region': 'x'}})\n"
        "assert 's3' in storage.schemes\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_storage_routes_s3_uris_to_the_configured_server(s3_server: SeaweedS3, prefix: str) -> None:
    storage = make_storage({"s3": s3_server.store_config()})
    storage.write(f"{prefix}/routed", b"via Storage")
    assert (
        s3_server.client()
        .get_object(Bucket=prefix.split("/")[2], Key=prefix.split("/", 3)[3] + "/routed")["Body"]
        .read()
        == b"via Storage"
    )
