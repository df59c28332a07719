"""``TypeContext``: prefixes, blob helpers, the current context, and cleaning up every local file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd
import pytest

from roost.types import Directory, File, StructuredDataset, TypeContext, TypeEngine
from roost_core.storage import FileStore, MemoryStore, Storage, StorageError


def _leftovers() -> set[str]:
    return {name for name in os.listdir(tempfile.gettempdir()) if name.startswith("roost-types-")}


def test_prefix_must_be_a_uri_the_storage_serves(storage: Storage) -> None:
    with pytest.raises(
        ValueError,
        match=r"^raw output prefix '/tmp/raw' is not a URI: expected file:///path or s3://bucket/path$",
    ):
        TypeContext(storage, "/tmp/raw")
    with pytest.raises(
        ValueError,
        match=r"^raw output prefix 's3://bucket/raw': storage serves no s3:// \(file://, mem://\)$",
    ):
        TypeContext(storage, "s3://bucket/raw")
    with pytest.raises(ValueError, match=r"^raw output prefix 'mem://' is not a URI"):
        TypeContext(storage, "mem://")


def test_names_and_paths(mem_ctx: TypeContext) -> None:
    assert mem_ctx.raw_output_prefix == "mem://bucket/raw"
    first, second = mem_ctx.new_remote_path(), mem_ctx.new_remote_path("x.csv")
    assert first.startswith("mem://bucket/raw/")
    assert second.endswith("/x.csv")
    assert first != second.rsplit("/", 1)[0]
    assert len(mem_ctx.unique_name()) == 32
    local = mem_ctx.new_local_path("data.bin")
    assert os.path.isdir(os.path.dirname(local))
    assert not os.path.exists(local)
    assert TypeContext.literal_uri("file:///a/b") == "/a/b"
    assert TypeContext.literal_uri("s3://a/b") == "s3://a/b"


def test_blob_helpers(mem_ctx: TypeContext, tmp_path: Path) -> None:
    assert mem_ctx.write("mem://bucket/raw/d/a.txt", b"a") == "mem://bucket/raw/d/a.txt"
    mem_ctx.write("mem://bucket/raw/d/sub/b.txt", b"b")
    assert list(mem_ctx.list("mem://bucket/raw/d")) == [
        ("mem://bucket/raw/d/a.txt", "a.txt"),
        ("mem://bucket/raw/d/sub/b.txt", "sub/b.txt"),
    ]
    assert mem_ctx.exists("mem://bucket/raw/d/a.txt")
    assert not mem_ctx.exists("mem://bucket/raw/d")
    mem_ctx.download_directory("mem://bucket/raw/d", str(tmp_path / "copy"))
    assert (tmp_path / "copy" / "sub" / "b.txt").read_bytes() == b"b"
    assert list(mem_ctx.list(str(tmp_path / "copy"))) == [
        (str(tmp_path / "copy" / "a.txt"), "a.txt"),
        (str(tmp_path / "copy" / "sub" / "b.txt"), "sub/b.txt"),
    ]
    assert mem_ctx.exists(str(tmp_path / "copy" / "a.txt"))
    assert mem_ctx.read(str(tmp_path / "copy" / "a.txt")) == b"a"
    with pytest.raises(StorageError, match=r"^cannot read '/no/such': No such file or directory$"):
        mem_ctx.read("/no/such")


def test_file_uploads_record_plain_paths(tmp_path: Path) -> None:
    """flytekit 1.16 cannot open file:// URIs of files, folders and pickles, so local blobs are recorded as
    paths; Roost reads both spellings."""
    storage = Storage({"file": FileStore()})
    with TypeContext(storage, f"file://{tmp_path}/raw") as context:
        uri = context.write(f"file://{tmp_path}/raw/x/y.txt", b"y")
        assert uri == f"{tmp_path}/raw/x/y.txt"
        engine = TypeEngine.with_builtins()
        from flyteidl.core import literals_pb2, types_pb2

        blob = literals_pb2.Blob(
            uri=f"file://{uri}", metadata=literals_pb2.BlobMetadata(type=types_pb2.BlobType())
        )
        read = engine.to_python_value(
            context, literals_pb2.Literal(scalar=literals_pb2.Scalar(blob=blob)), File
        )
        assert Path(read).read_bytes() == b"y"


def test_close_removes_every_download(
    storage: Storage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing is left in the temp folder: not by uploads, not by downloads once the context closes."""
    private = tmp_path / "tmp"
    private.mkdir()
    # A private temp folder, so that other programs' files cannot disturb the check.
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    before = _leftovers()
    assert before == set()
    engine = TypeEngine.with_builtins()
    source = tmp_path / "f.txt"
    source.write_text("f")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "g.txt").write_text("g")
    with TypeContext(storage, "mem://bucket/raw") as context:
        literals = {
            File: engine.to_literal(context, File(source), File),
            Directory: engine.to_literal(context, Directory(tmp_path / "d"), Directory),
            pd.DataFrame: engine.to_literal(context, pd.DataFrame({"a": [1]}), pd.DataFrame),
        }
        assert _leftovers() == before
        downloads = [
            engine.to_python_value(context, literals[File], File).download(),
            engine.to_python_value(context, literals[Directory], Directory).download(),
        ]
        assert engine.to_python_value(context, literals[pd.DataFrame], pd.DataFrame)["a"].tolist() == [1]
        local_dir = context.local_dir
        assert os.path.dirname(local_dir) == tempfile.gettempdir()
        assert all(path.startswith(local_dir) for path in downloads)
    assert not os.path.exists(local_dir)
    assert os.listdir(private) == []
    assert context.closed
    with pytest.raises(RuntimeError, match=r"^this TypeContext is closed; its local files are gone$"):
        _ = context.local_dir
    context.close()


def test_work_dir_holds_the_local_folder(storage: Storage, tmp_path: Path) -> None:
    context = TypeContext(storage, "mem://bucket/raw", work_dir=tmp_path)
    assert os.path.dirname(context.local_dir) == str(tmp_path)
    context.close()
    assert os.listdir(tmp_path) == []


def test_nested_contexts(storage: Storage, tmp_path: Path) -> None:
    outer = TypeContext(storage, "mem://bucket/outer", work_dir=tmp_path)
    inner = TypeContext(storage, "mem://bucket/inner", work_dir=tmp_path)
    assert TypeContext.current() is None
    with outer:
        with inner:
            assert TypeContext.current() is inner
        assert TypeContext.current() is outer
    assert TypeContext.current() is None
    assert repr(inner) == "TypeContext(raw_output_prefix='mem://bucket/inner', local_dir=None)"


def test_a_dataset_read_in_a_context_reads_through_it(storage: Storage, tmp_path: Path) -> None:
    engine = TypeEngine.with_builtins()
    context = TypeContext(storage, "mem://bucket/raw", work_dir=tmp_path)
    literal = engine.to_literal(context, pd.DataFrame({"a": [2]}), pd.DataFrame)
    dataset = engine.to_python_value(context, literal, StructuredDataset)
    assert TypeContext.current() is None
    assert dataset.open(pd.DataFrame).all()["a"].tolist() == [2]
    context.close()


def test_file_store_root_is_respected(tmp_path: Path) -> None:
    storage = Storage({"file": FileStore(root=str(tmp_path / "allowed")), "mem": MemoryStore()})
    with (
        TypeContext(storage, f"file://{tmp_path}/allowed/raw") as context,
        pytest.raises(StorageError, match=r"is outside the storage root"),
    ):
        context.read(f"file://{tmp_path}/elsewhere/x")
