"""The behaviour every blob store promises, run against mem://, file:// and s3:// alike."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from blob_backends import Backend
from flyteidl.core import literals_pb2

from roost_core.storage import BlobNotFoundError, StorageError


def test_write_then_read_returns_the_same_bytes(backend: Backend) -> None:
    blobs = {"inputs.pb": b"\x00\x01binary\xff", "empty": b"", "deep/folder/x.txt": b"x" * 70_000}
    for name, data in blobs.items():
        backend.storage.write(backend.uri(name), data)
    for name, data in blobs.items():
        assert backend.storage.read(backend.uri(name)) == data


def test_write_replaces_an_existing_blob(backend: Backend) -> None:
    uri = backend.uri("outputs.pb")
    backend.storage.write(uri, b"first version, longer")
    backend.storage.write(uri, b"second")
    assert backend.storage.read(uri) == b"second"


def test_reading_a_missing_blob_names_its_uri(backend: Backend) -> None:
    uri = backend.uri("never", "written.pb")
    with pytest.raises(BlobNotFoundError, match="no blob at") as raised:
        backend.storage.read(uri)
    assert repr(uri) in str(raised.value)


def test_exists_tells_written_from_missing(backend: Backend) -> None:
    backend.storage.write(backend.uri("a", "present"), b"1")
    assert backend.storage.exists(backend.uri("a", "present"))
    assert not backend.storage.exists(backend.uri("a", "absent"))
    assert not backend.storage.exists(backend.uri("elsewhere", "present"))


def test_list_is_recursive_lexical_and_respects_folder_boundaries(backend: Backend) -> None:
    names = ["a/b/x", "a/b.txt", "a/bc/y", "a/b/c/z", "a/b0", "a/b/c.d", "z"]
    for name in names:
        backend.storage.write(backend.uri(name), name.encode())

    assert list(backend.storage.list(backend.uri("a/b"))) == [
        backend.uri("a/b/c.d"),
        backend.uri("a/b/c/z"),
        backend.uri("a/b/x"),
    ]
    assert list(backend.storage.list(backend.uri("a/b") + "/")) == list(
        backend.storage.list(backend.uri("a/b"))
    )
    everything = list(backend.storage.list(backend.base))
    assert everything == sorted(everything)
    assert everything == sorted(backend.uri(n) for n in names)
    assert list(backend.storage.list(backend.uri("nothing/here"))) == []
    # A blob is not a folder: listing its own URI gives nothing.
    assert list(backend.storage.list(backend.uri("z"))) == []


def test_listed_uris_read_back(backend: Backend) -> None:
    backend.storage.write(backend.uri("run/n0/outputs.pb"), b"n0")
    backend.storage.write(backend.uri("run/n1/outputs.pb"), b"n1")
    listed = backend.storage.list(backend.uri("run"))
    assert [backend.storage.read(uri) for uri in listed] == [b"n0", b"n1"]


def test_delete_removes_and_tolerates_missing(backend: Backend) -> None:
    uri = backend.uri("doomed")
    backend.storage.write(uri, b"bye")
    backend.storage.delete(uri)
    assert not backend.storage.exists(uri)
    backend.storage.delete(uri)
    backend.storage.delete(backend.uri("never", "existed"))


def test_protobuf_blobs_round_trip(backend: Backend) -> None:
    message = literals_pb2.LiteralMap()
    message.literals["x"].scalar.primitive.integer = 42
    message.literals["name"].scalar.primitive.string_value = "roost"
    uri = backend.uri("outputs.pb")
    backend.storage.write_proto(uri, message)
    assert backend.storage.read_proto(uri, literals_pb2.LiteralMap) == message


def test_a_corrupt_protobuf_blob_says_which_uri_and_type(backend: Backend) -> None:
    uri = backend.uri("corrupt.pb")
    # Field 1, length-delimited, with a length that runs past the end of the data.
    backend.storage.write(uri, b"\x0a\xff\xff")
    with pytest.raises(StorageError) as raised:
        backend.storage.read_proto(uri, literals_pb2.LiteralMap)
    assert f"{uri!r} is not a valid flyteidl.core.LiteralMap" in str(raised.value)


def test_many_threads_write_and_read_distinct_keys(backend: Backend) -> None:
    def work(worker: int) -> list[tuple[str, bytes]]:
        seen = []
        for item in range(15):
            uri = backend.uri(f"w{worker}", f"k{item}")
            data = f"{worker}:{item}".encode() * (item + 1)
            backend.storage.write(uri, data)
            seen.append((uri, backend.storage.read(uri)))
        return seen

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = [pair for batch in pool.map(work, range(8)) for pair in batch]
    for uri, data in results:
        worker, item = uri.rsplit("/", 2)[-2:]
        assert data == f"{worker[1:]}:{item[1:]}".encode() * (int(item[1:]) + 1)
    assert len(list(backend.storage.list(backend.base))) == 8 * 15
