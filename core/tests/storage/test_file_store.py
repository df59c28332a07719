"""FileStore specifics: signed URLs and their verification, the root fence, filesystem errors."""

from __future__ import annotations

import base64
import hashlib
import http.server
import os
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from roost_core.errors import ConfigurationError
from roost_core.storage import FileStore, StorageError
from roost_core.storage import file as file_module
from roost_core.storage.file import TEMP_PREFIX, file_store

URL_BASE = "http://127.0.0.1:8089/data"
KEY = b"test signing key"


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    return FileStore(root=str(tmp_path), url_base=URL_BASE, signing_key=KEY)


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def md5_of(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def test_a_signed_url_lies_under_url_base(store: FileStore, tmp_path: Path) -> None:
    url = store.signed_url(f"file://{tmp_path}/run 1/outputs.pb", method="get")
    assert url.startswith(f"{URL_BASE}/run%201/outputs.pb?")
    assert set(query_of(url)) == {"method", "expires", "signature"}
    assert query_of(url)["method"] == "GET"


def test_a_signed_url_verifies_to_its_uri(store: FileStore, tmp_path: Path) -> None:
    uri = f"file://{tmp_path}/run 1/outputs.pb"
    url = store.signed_url(uri)
    query = query_of(url)
    assert store.verify_signed_url(url, "GET", query["expires"], query["signature"]) == uri
    # The admin may also pass the decoded path after url_base, and any host name.
    assert (
        store.verify_signed_url("run 1/outputs.pb", "GET", int(query["expires"]), query["signature"]) == uri
    )
    elsewhere = url.replace("127.0.0.1:8089", "roost.example.com")
    assert store.verify_signed_url(elsewhere, "GET", query["expires"], query["signature"]) == uri


def test_an_expired_url_says_so(store: FileStore, tmp_path: Path) -> None:
    uri = f"file://{tmp_path}/x"
    url = store.signed_url(uri, expires_in=timedelta(seconds=-5))
    query = query_of(url)
    with pytest.raises(StorageError, match="expired at") as raised:
        store.verify_signed_url(url, "GET", query["expires"], query["signature"])
    assert f"signed URL for {uri!r} expired at" in str(raised.value)


@pytest.mark.parametrize("tamper", ["signature", "expires", "path", "method", "key"])
def test_a_tampered_url_has_a_wrong_signature(store: FileStore, tmp_path: Path, tamper: str) -> None:
    url = store.signed_url(f"file://{tmp_path}/a/blob")
    query = query_of(url)
    method, expires, signature = "GET", query["expires"], query["signature"]
    checker = store
    if tamper == "signature":
        signature = ("0" if signature[0] != "0" else "1") + signature[1:]
    elif tamper == "expires":
        expires = str(int(expires) + 3600)
    elif tamper == "path":
        url = url.replace("/a/blob", "/a/other")
    elif tamper == "method":
        method = "PUT"
    else:
        checker = FileStore(root=str(tmp_path), url_base=URL_BASE, signing_key="another key")
    with pytest.raises(StorageError, match="has a wrong signature"):
        checker.verify_signed_url(url, method, expires, signature)


@pytest.mark.parametrize("signature", ["é" * 64, "\udcff" * 64, "", "0" * 1000])
def test_a_signature_that_is_not_hex_is_just_wrong(store: FileStore, tmp_path: Path, signature: str) -> None:
    uri = f"file://{tmp_path}/a/blob"
    query = query_of(store.signed_url(uri))
    with pytest.raises(StorageError) as raised:
        store.verify_signed_url("a/blob", "GET", query["expires"], signature)
    assert str(raised.value) == f"signed URL for {uri!r} has a wrong signature (for GET)"


@pytest.mark.parametrize("expires", ["-1", "99999999999999999999", "1e9", "٣", " 5", -1, 10**20])
def test_an_expires_value_that_is_no_time_is_invalid(store: FileStore, tmp_path: Path, expires) -> None:
    uri = f"file://{tmp_path}/a/blob"
    query = query_of(store.signed_url(uri))
    with pytest.raises(StorageError) as raised:
        store.verify_signed_url("a/blob", "GET", expires, query["signature"])
    assert str(raised.value) == f"signed URL for {uri!r} has an invalid expires value {expires!r}"


def test_a_put_signed_with_content_md5_requires_that_md5(store: FileStore, tmp_path: Path) -> None:
    uri = f"file://{tmp_path}/upload.tar.gz"
    url = store.signed_url(uri, method="PUT", content_md5=md5_of(b"body"))
    query = query_of(url)
    args = (url, "PUT", query["expires"], query["signature"])
    assert store.verify_signed_url(*args, content_md5=md5_of(b"body")) == uri
    with pytest.raises(StorageError, match="wrong signature"):
        store.verify_signed_url(*args)
    with pytest.raises(StorageError, match="wrong signature"):
        store.verify_signed_url(*args, content_md5=md5_of(b"other"))


def test_a_put_signed_without_md5_accepts_a_request_that_sends_one(store: FileStore, tmp_path: Path) -> None:
    uri = f"file://{tmp_path}/upload"
    url = store.signed_url(uri, method="PUT")
    query = query_of(url)
    assert (
        store.verify_signed_url(url, "PUT", query["expires"], query["signature"], content_md5=md5_of(b"x"))
        == uri
    )


def test_signing_needs_url_base(tmp_path: Path) -> None:
    uri = f"file://{tmp_path}/x"
    with pytest.raises(StorageError) as raised:
        FileStore().signed_url(uri)
    assert str(raised.value) == (
        f"cannot sign {uri!r}: file:// URLs can only be signed when url_base is configured"
    )


def test_verification_errors_name_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="has no signing_key configured"):
        FileStore().verify_signed_url("x", "GET", 1, "sig")
    with pytest.raises(StorageError, match="has no url_base configured"):
        FileStore(signing_key=KEY).verify_signed_url(f"{URL_BASE}/x", "GET", 1, "sig")
    store = FileStore(url_base=URL_BASE, signing_key=KEY)
    with pytest.raises(StorageError, match=r"is not a signed URL under http://127\.0\.0\.1:8089"):
        store.verify_signed_url("http://127.0.0.1:8089/other/x", "GET", 1, "sig")
    with pytest.raises(StorageError, match="has an invalid expires value 'soon'"):
        store.verify_signed_url("tmp/x", "GET", "soon", "sig")
    with pytest.raises(StorageError, match="only GET and PUT URLs are signed"):
        store.signed_url("file:///tmp/x", method="POST")


def test_without_root_url_paths_are_absolute_paths(tmp_path: Path) -> None:
    store = FileStore(url_base=URL_BASE + "/", signing_key=KEY)
    uri = f"file://{tmp_path}/x.pb"
    url = store.signed_url(uri)
    assert url.startswith(f"{URL_BASE}{tmp_path}/x.pb?")
    query = query_of(url)
    assert store.verify_signed_url(url, "GET", query["expires"], query["signature"]) == uri


def test_paths_escaping_root_are_refused(store: FileStore, tmp_path: Path) -> None:
    outside = f"file://{tmp_path}/../elsewhere/secret"
    for operation in (store.read, store.exists, store.delete, lambda u: store.write(u, b"")):
        with pytest.raises(StorageError, match="is outside the storage root") as raised:
            operation(outside)
        assert repr(outside) in str(raised.value)
    with pytest.raises(StorageError, match="is outside the storage root"):
        store.list("file:///etc")
    with pytest.raises(StorageError, match="is outside the storage root"):
        store.verify_signed_url(f"{URL_BASE}/../../etc/passwd", "GET", 1, "sig")
    # ".." that stays inside root is fine.
    store.write(f"file://{tmp_path}/a/../b", b"inside")
    assert (tmp_path / "b").read_bytes() == b"inside"


def test_a_plain_absolute_path_names_the_same_blob(tmp_path: Path) -> None:
    # Literals record the local store's blobs by their plain paths (flytekit cannot open file:// ones).
    store = FileStore(root=str(tmp_path / "root"))
    store.write(f"file://{tmp_path}/root/a/b.txt", b"data")
    assert store.read(f"{tmp_path}/root/a/b.txt") == b"data"
    assert store.exists(f"{tmp_path}/root/a/b.txt")
    assert list(store.list(f"{tmp_path}/root/a")) == [f"file://{tmp_path}/root/a/b.txt"]
    with pytest.raises(StorageError, match="is outside the storage root"):
        store.read(f"{tmp_path}/root/../elsewhere")


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("file://relative/x", "is not an absolute file:// URI: expected file:///absolute/path"),
        ("relative/x", "is not a file:// URI"),
        ("s3://bucket/x", "is not a file:// URI"),
    ],
)
def test_malformed_uris_are_refused(uri: str, message: str) -> None:
    with pytest.raises(StorageError, match=message) as raised:
        FileStore().read(uri)
    assert repr(uri) in str(raised.value)


def test_filesystem_errors_name_the_uri(tmp_path: Path) -> None:
    store = FileStore()
    (tmp_path / "folder").mkdir()
    (tmp_path / "plain").write_bytes(b"")
    folder, under_file = f"file://{tmp_path}/folder", f"file://{tmp_path}/plain/x"
    with pytest.raises(StorageError) as read_folder:
        store.read(folder)
    assert str(read_folder.value) == f"cannot read {folder!r}: it is a folder, not a file"
    with pytest.raises(StorageError) as write_under_file:
        store.write(under_file, b"")
    assert str(write_under_file.value) == (
        f"cannot write {under_file!r}: a parent of it is a file, not a folder"
    )
    with pytest.raises(StorageError) as delete_folder:
        store.delete(folder)
    assert str(delete_folder.value) == f"cannot delete {folder!r}: it is a folder, not a file"
    with pytest.raises(StorageError, match="it is a folder, not a file"):
        store.write(f"file://{tmp_path}/folder/", b"")
    assert list((tmp_path / "folder").iterdir()) == []
    with pytest.raises(StorageError, match="cannot write 'file:///': it names a folder"):
        store.write("file:///", b"")
    assert not store.exists(folder)


def test_permission_denied_names_the_uri(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "blob").write_bytes(b"secret")
    locked.chmod(0)
    code = (
        "import sys\n"
        "from roost_core.storage import FileStore, StorageError\n"
        "for action in ('read', 'write', 'exists', 'delete'):\n"
        "    try:\n"
        "        args = [b'x'] if action == 'write' else []\n"
        "        getattr(FileStore(), action)(sys.argv[1], *args)\n"
        "    except StorageError as exc:\n"
        "        print(exc)\n"
    )
    command = [sys.executable, "-c", code, f"file://{locked}/blob"]
    if os.geteuid() == 0:
        # root ignores file modes unless it gives up the capabilities that let it.
        setpriv = shutil.which("setpriv")
        assert setpriv, "setpriv (util-linux) is needed to test permissions as root"
        command = [setpriv, "--bounding-set=-dac_override,-dac_read_search", *command]
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=True)
    finally:
        locked.chmod(0o755)
    uri = f"file://{locked}/blob"
    assert result.stdout.splitlines() == [
        f"cannot read {uri!r}: permission denied",
        f"cannot write {uri!r}: permission denied",
        f"cannot check {uri!r}: permission denied",
        f"cannot delete {uri!r}: permission denied",
    ]


def test_writes_leave_no_temporary_files_and_listing_skips_them(tmp_path: Path) -> None:
    store = FileStore()
    store.write(f"file://{tmp_path}/out/a", b"1")
    store.write(f"file://{tmp_path}/out/a", b"2")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a"]
    (tmp_path / "out" / f"{TEMP_PREFIX}0123-b").write_bytes(b"half a write")
    assert list(store.list(f"file://{tmp_path}/out")) == [f"file://{tmp_path}/out/a"]


def test_a_forked_child_names_its_temporary_files_apart_from_its_parent() -> None:
    # A fork copies the counter of written files: with the parent's tag too, a child could pick the name of a
    # temporary file its parent left (a write that crashed) and fail to write.
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write, file_module._temp_names.tag.encode())
        os._exit(0)
    os.waitpid(pid, 0)
    os.close(write)
    with os.fdopen(read) as child:
        assert child.read() not in ("", file_module._temp_names.tag)


def test_listing_does_not_follow_folder_links(tmp_path: Path) -> None:
    store = FileStore()
    store.write(f"file://{tmp_path}/tree/a", b"")
    (tmp_path / "tree" / "loop").symlink_to(tmp_path / "tree")
    assert list(store.list(f"file://{tmp_path}/tree")) == [f"file://{tmp_path}/tree/a"]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"rot": "/x"}, "unknown file storage option(s) rot; known: root, signing_key, url_base"),
        ({"root": "relative/dir"}, "file storage root 'relative/dir' must be an absolute path"),
        ({"root": 3}, "file storage option root must be a string"),
        ({"url_base": "http://x/data"}, "url_base 'http://x/data' needs a signing_key"),
        ({"url_base": "http://x", "signing_key": 7}, "signing_key must be a string or bytes"),
    ],
)
def test_bad_configuration_is_refused(config: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        file_store(config)
    assert message in str(raised.value)


def test_root_may_be_given_as_a_file_uri(tmp_path: Path) -> None:
    store = file_store({"root": f"file://{tmp_path}/"})
    assert store.root == str(tmp_path)


class SignedFileServer(http.server.BaseHTTPRequestHandler):
    """What the admin server does with FileStore's signed URLs, in a few lines."""

    store: FileStore

    def _uri(self) -> str:
        query = query_of(self.path)
        return self.store.verify_signed_url(
            f"http://{self.headers['Host']}{self.path}",
            self.command,
            query.get("expires", "0"),
            query.get("signature", ""),
            self.headers.get("Content-MD5"),
        )

    def do_GET(self) -> None:
        try:
            data = self.store.read(self._uri())
        except StorageError as exc:
            self.send_error(403, str(exc))
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self) -> None:
        try:
            uri = self._uri()
        except StorageError as exc:
            self.send_error(403, str(exc))
            return
        self.store.write(uri, self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def served(tmp_path: Path) -> Iterator[FileStore]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SignedFileServer)
    store = FileStore(
        root=str(tmp_path), signing_key=KEY, url_base=f"http://127.0.0.1:{server.server_address[1]}/data"
    )
    SignedFileServer.store = store
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield store
    server.shutdown()
    server.server_close()


def test_signed_urls_work_over_http(served: FileStore, tmp_path: Path) -> None:
    uri = f"file://{tmp_path}/uploads/my file.bin"
    body = b"\x00uploaded over HTTP\xff"
    put_url = served.signed_url(uri, method="PUT", content_md5=md5_of(body))
    request = urllib.request.Request(put_url, data=body, method="PUT", headers={"Content-MD5": md5_of(body)})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
    with urllib.request.urlopen(served.signed_url(uri), timeout=10) as response:
        assert response.read() == body
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(put_url, timeout=10)  # a PUT URL does not allow GET
    assert refused.value.code == 403
