"""``File`` and ``Directory``: uploads, lazy downloads, formats, pass-through, errors."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import pytest
from flyteidl.core import literals_pb2, types_pb2

from roost.types import (
    Directory,
    File,
    InvalidLiteralError,
    InvalidValueError,
    TypeContext,
    TypeEngine,
)
from roost_core.storage import Storage

SINGLE = types_pb2.BlobType.BlobDimensionality.SINGLE
MULTIPART = types_pb2.BlobType.BlobDimensionality.MULTIPART


def _tree(root: Path) -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("alpha")
    (root / "sub" / "b.txt").write_text("beta")
    return root


def _blob(uri: str, dimensionality: int = SINGLE, blob_format: str = "") -> literals_pb2.Literal:
    blob_type = types_pb2.BlobType(format=blob_format, dimensionality=dimensionality)
    blob = literals_pb2.Blob(uri=uri, metadata=literals_pb2.BlobMetadata(type=blob_type))
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(blob=blob))


def test_literal_types(engine: TypeEngine) -> None:
    assert engine.to_literal_type(File) == types_pb2.LiteralType(
        blob=types_pb2.BlobType(dimensionality=SINGLE)
    )
    assert engine.to_literal_type(File["csv"]) == types_pb2.LiteralType(
        blob=types_pb2.BlobType(format="csv", dimensionality=SINGLE)
    )
    assert engine.to_literal_type(Directory[".parquet"]) == types_pb2.LiteralType(
        blob=types_pb2.BlobType(format="parquet", dimensionality=MULTIPART)
    )
    assert File["csv"] is File["csv"]
    assert File[""] is File
    assert File["csv"].format == "csv"
    assert File["csv"].__name__ == "File['csv']"
    assert engine.guess_python_type(engine.to_literal_type(File["csv"])) is File["csv"]
    assert engine.guess_python_type(engine.to_literal_type(Directory)) is Directory


def test_a_format_is_a_string() -> None:
    with pytest.raises(TypeError, match=r"^a format must be a string such as 'csv', not 3$"):
        File[3]  # type: ignore[misc]


def test_local_file_is_uploaded(engine: TypeEngine, ctx: TypeContext, tmp_path: Path) -> None:
    source = tmp_path / "data.csv"
    source.write_text("a,b\n")
    literal = engine.to_literal(ctx, File(source, metadata={"owner": "me"}), File["csv"])
    blob = literal.scalar.blob
    # Stored under the file:// raw output prefix, recorded as the plain path, as flytekit records local data.
    assert blob.uri.startswith(f"{tmp_path}/raw/")
    assert blob.uri.endswith("/data.csv")
    assert blob.metadata.type == types_pb2.BlobType(format="csv", dimensionality=SINGLE)
    assert dict(literal.metadata) == {"owner": "me"}
    assert Path(blob.uri).read_text() == "a,b\n"
    back = engine.to_python_value(ctx, literal, File["csv"])
    assert type(back) is File["csv"]
    assert back.metadata == {"owner": "me"}
    assert Path(back).read_text() == "a,b\n"
    for plain in (str(source), source):
        assert Path(engine.to_literal(ctx, plain, File).scalar.blob.uri).read_text() == "a,b\n"


def test_remote_file_downloads_lazily(engine: TypeEngine, mem_ctx: TypeContext, tmp_path: Path) -> None:
    source = tmp_path / "notes.txt"
    source.write_text("remember")
    literal = engine.to_literal(mem_ctx, File(source), File)
    uri = literal.scalar.blob.uri
    assert uri.startswith("mem://bucket/raw/")
    assert uri.endswith("/notes.txt")
    back = engine.to_python_value(mem_ctx, literal, File)
    assert back.path == uri
    assert back.remote_source == uri
    assert not back.downloaded
    with back.open("r") as handle:
        assert handle.read() == "remember"
    assert back.downloaded
    local = back.download()
    assert local.startswith(mem_ctx.local_dir)
    assert os.path.basename(local) == "notes.txt"
    # Passing an input on records the same URI: nothing is copied again.
    assert engine.to_literal(mem_ctx, back, File).scalar.blob.uri == uri


def test_uris_and_unuploaded_paths_are_recorded_as_given(engine: TypeEngine, ctx: TypeContext) -> None:
    assert engine.to_literal(ctx, "s3://bucket/key.csv", File).scalar.blob.uri == "s3://bucket/key.csv"
    assert engine.to_literal(ctx, File("s3://bucket/key"), File).scalar.blob.uri == "s3://bucket/key"
    kept = File("/nowhere/file.txt", remote_path=False)
    assert engine.to_literal(ctx, kept, File).scalar.blob.uri == "/nowhere/file.txt"


def test_chosen_remote_path(engine: TypeEngine, mem_ctx: TypeContext, tmp_path: Path) -> None:
    source = tmp_path / "x.bin"
    source.write_bytes(b"\x00\x01")
    literal = engine.to_literal(mem_ctx, File(source, remote_path="mem://bucket/chosen/x.bin"), File)
    assert literal.scalar.blob.uri == "mem://bucket/chosen/x.bin"
    assert mem_ctx.read("mem://bucket/chosen/x.bin") == b"\x00\x01"


def test_file_errors(engine: TypeEngine, ctx: TypeContext, tmp_path: Path) -> None:
    with pytest.raises(
        InvalidValueError, match=r"^expected File but '/no/such/file' is not an existing local file$"
    ):
        engine.to_literal(ctx, "/no/such/file", File)
    with pytest.raises(
        InvalidValueError, match=rf"^expected File but '{tmp_path}' is not an existing local file$"
    ):
        engine.to_literal(ctx, File(tmp_path), File)
    with pytest.raises(InvalidValueError, match=r"^expected File but got int \(3\)$"):
        engine.to_literal(ctx, 3, File)
    with pytest.raises(InvalidValueError, match=r"^expected File but got Directory \(Directory\('/x'\)\)$"):
        engine.to_literal(ctx, Directory("/x"), File)
    with pytest.raises(
        InvalidLiteralError,
        match=r"^expected File but got a blob literal \(/no/such/file\): '/no/such/file' is not an existing local "
        r"file$",
    ):
        engine.to_python_value(ctx, _blob("/no/such/file"), File)
    with pytest.raises(
        InvalidLiteralError, match=r"^expected File but got a multipart blob literal \(/tmp\)$"
    ):
        engine.to_python_value(ctx, _blob("/tmp", MULTIPART), File)


def test_download_needs_an_open_context(storage: Storage, tmp_path: Path) -> None:
    made = File("mem://bucket/raw/made-by-hand.txt")
    message = (
        r"^cannot download 'mem://bucket/raw/made-by-hand\.txt': no open TypeContext \(remote data can be "
        r"read inside a task, or within `with TypeContext\(\.\.\.\)`\)$"
    )
    with pytest.raises(RuntimeError, match=message):
        made.download()
    context = TypeContext(storage, "mem://bucket/raw", work_dir=tmp_path)
    context.write("mem://bucket/raw/made-by-hand.txt", b"by hand")
    with context:
        assert TypeContext.current() is context
        assert Path(made.download()).read_bytes() == b"by hand"
    assert TypeContext.current() is None
    with pytest.raises(RuntimeError, match=message):
        File("mem://bucket/raw/made-by-hand.txt").download()


def test_directories(engine: TypeEngine, mem_ctx: TypeContext, ctx: TypeContext, tmp_path: Path) -> None:
    tree = _tree(tmp_path / "tree")
    literal = engine.to_literal(mem_ctx, Directory(tree), Directory)
    uri = literal.scalar.blob.uri
    assert literal.scalar.blob.metadata.type.dimensionality == MULTIPART
    assert sorted(relative for _, relative in mem_ctx.list(uri)) == ["a.txt", "sub/b.txt"]
    back = engine.to_python_value(mem_ctx, literal, Directory)
    local = Path(back.download())
    assert (local / "a.txt").read_text() == "alpha"
    assert (local / "sub" / "b.txt").read_text() == "beta"
    in_place = engine.to_literal(ctx, str(tree), Directory)
    assert Path(in_place.scalar.blob.uri, "sub", "b.txt").read_text() == "beta"
    with pytest.raises(
        InvalidValueError, match=r"^expected Directory but '/no/dir' is not an existing local folder$"
    ):
        engine.to_literal(ctx, "/no/dir", Directory)
    with pytest.raises(
        InvalidLiteralError,
        match=r"^expected Directory but got a multipart blob literal \(/no/dir\): '/no/dir' is not an existing "
        r"local folder$",
    ):
        engine.to_python_value(ctx, _blob("/no/dir", MULTIPART), Directory)


def test_files_inside_struct_data(engine: TypeEngine, ctx: TypeContext, tmp_path: Path) -> None:
    source = tmp_path / "s.txt"
    source.write_text("s")
    struct = engine.to_struct_data(ctx, File(source, metadata={"k": "v"}), File)
    assert set(struct) == {"path", "metadata"}
    assert struct["metadata"] == {"k": "v"}
    back = engine.from_struct_data(ctx, struct, File)
    assert Path(back).read_text() == "s"
    assert back.metadata == {"k": "v"}
    assert engine.to_struct_data(ctx, Directory("s3://b/d"), Directory) == {"path": "s3://b/d"}
    with pytest.raises(
        InvalidLiteralError,
        match=r"^expected File but got dict \(\{\}\) in struct data: expected a map with a 'path'$",
    ):
        engine.from_struct_data(ctx, {}, File)


def test_annotated_files(engine: TypeEngine, ctx: TypeContext, tmp_path: Path) -> None:
    source = tmp_path / "a.txt"
    source.write_text("a")
    annotated = Annotated[File, "any annotation"]
    literal = engine.to_literal(ctx, source, annotated)
    assert Path(engine.to_python_value(ctx, literal, annotated)).read_text() == "a"


def test_equality_and_text() -> None:
    assert File("/a") == File("/a")
    assert File("/a") != File["csv"]("/a")
    assert File("/a") != File("/a", remote_path=False)
    assert len({File("/a"), File("/a")}) == 1
    assert str(File("/a")) == "/a"
    assert repr(Directory("s3://b/d")) == "Directory('s3://b/d')"
    assert File("/a").__eq__("/a") is NotImplemented
