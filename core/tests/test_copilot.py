"""Copilot data loading: inputs written as files the way Flyte's copilot writes them, outputs read back."""

from __future__ import annotations

import datetime
import json
import re
from pathlib import Path

import pytest
from flyteidl.core import errors_pb2, execution_pb2, interface_pb2, literals_pb2, tasks_pb2, types_pb2
from google.protobuf import struct_pb2

from roost_core.copilot import (
    DEFAULT_INPUT_PATH,
    DEFAULT_OUTPUT_PATH,
    DataLoadingError,
    data_loading_config,
    data_paths,
    decode_interface,
    download_inputs,
    encode_interface,
    substitute_paths,
    upload_outputs,
    write_error_document,
)
from roost_core.errors import ErrorKind
from roost_core.storage import Storage
from roost_core.storage.file import FileStore

SIMPLE = types_pb2.SimpleType
FORMATS = tasks_pb2.DataLoadingConfig


def primitive(**value: object) -> literals_pb2.Literal:
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(**value)))


def blob(uri: str, *, multipart: bool = False, fmt: str = "") -> literals_pb2.Literal:
    dimensionality = types_pb2.BlobType.MULTIPART if multipart else types_pb2.BlobType.SINGLE
    metadata = literals_pb2.BlobMetadata(type=types_pb2.BlobType(format=fmt, dimensionality=dimensionality))
    return literals_pb2.Literal(
        scalar=literals_pb2.Scalar(blob=literals_pb2.Blob(uri=uri, metadata=metadata))
    )


def variables(**types: types_pb2.LiteralType) -> interface_pb2.VariableMap:
    return interface_pb2.VariableMap(variables={k: interface_pb2.Variable(type=t) for k, t in types.items()})


def simple(kind: int) -> types_pb2.LiteralType:
    return types_pb2.LiteralType(simple=kind)


def file_type(fmt: str = "", *, multipart: bool = False) -> types_pb2.LiteralType:
    dimensionality = types_pb2.BlobType.MULTIPART if multipart else types_pb2.BlobType.SINGLE
    return types_pb2.LiteralType(blob=types_pb2.BlobType(format=fmt, dimensionality=dimensionality))


@pytest.fixture
def storage() -> Storage:
    return Storage({"file": FileStore()})


def test_primitives_are_written_as_copilot_formats_them(storage: Storage, tmp_path: Path) -> None:
    moment = literals_pb2.Primitive()
    moment.datetime.FromDatetime(datetime.datetime(2024, 5, 6, 7, 8, 9, 500000))
    inputs = literals_pb2.LiteralMap(
        literals={
            "i": primitive(integer=-42),
            "f": primitive(float_value=1e20),
            "g": primitive(float_value=0.1),
            "z": primitive(float_value=-0.0),
            "s": primitive(string_value="hello\nworld"),
            "b": primitive(boolean=True),
            "t": literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=moment)),
        }
    )
    durations = {"d1": (5400, 0), "d2": (0, 1_500_000), "d3": (0, 0), "d4": (3600, 500_000_000), "d5": (0, 7)}
    for name, (seconds, nanos) in durations.items():
        literal = primitive()
        literal.scalar.primitive.duration.seconds = seconds
        literal.scalar.primitive.duration.nanos = nanos
        inputs.literals[name].CopyFrom(literal)
    download_inputs(storage, inputs, tmp_path / "in")
    written = {p.name: p.read_text() for p in (tmp_path / "in").iterdir() if p.suffix == ""}
    assert written == {
        "i": "-42",
        "f": "100000000000000000000",
        "g": "0.1",
        "z": "-0",
        "s": "hello\nworld",
        "b": "true",
        "t": "2024-05-06T07:08:09.5Z",
        "d1": "1h30m0s",
        "d2": "1.5ms",
        "d3": "0s",
        "d4": "1h0m0.5s",
        "d5": "7ns",
    }
    values = json.loads((tmp_path / "in" / "inputs.json").read_text())
    assert values["i"] == -42 and values["b"] is True and values["t"] == "2024-05-06T07:08:09.5Z"
    assert literals_pb2.LiteralMap.FromString((tmp_path / "in" / "inputs.pb").read_bytes()) == inputs


def test_files_folders_collections_and_maps(storage: Storage, tmp_path: Path) -> None:
    source = tmp_path / "source"
    (source / "folder" / "nested").mkdir(parents=True)
    (source / "a.txt").write_text("file a")
    (source / "folder" / "x.csv").write_text("1,2")
    (source / "folder" / "nested" / "y.csv").write_text("3,4")
    inputs = literals_pb2.LiteralMap(
        literals={
            "file": blob((source / "a.txt").as_uri(), fmt="txt"),
            "plain_path": blob(str(source / "a.txt")),
            "folder": blob((source / "folder").as_uri(), multipart=True),
            "numbers": literals_pb2.Literal(
                collection=literals_pb2.LiteralCollection(
                    literals=[primitive(integer=1), primitive(integer=2)]
                )
            ),
            "named": literals_pb2.Literal(
                map=literals_pb2.LiteralMap(literals={"k": primitive(string_value="v")})
            ),
        }
    )
    folder = tmp_path / "in"
    download_inputs(storage, inputs, folder, format=FORMATS.YAML)
    assert (folder / "file").read_text() == "file a"
    assert (folder / "plain_path").read_text() == "file a"
    assert (folder / "folder" / "x.csv").read_text() == "1,2"
    assert (folder / "folder" / "nested" / "y.csv").read_text() == "3,4"
    assert [(folder / "numbers" / i).read_text() for i in ("0", "1")] == ["1", "2"]
    assert (folder / "named" / "k").read_text() == "v"
    local = literals_pb2.LiteralMap.FromString((folder / "inputs.pb").read_bytes())
    assert local.literals["file"].scalar.blob.uri == str(folder / "file")
    assert local.literals["file"].scalar.blob.metadata.type.format == "txt"
    values = json.loads((folder / "inputs.yaml").read_text())  # JSON is YAML
    assert values["folder"] == str(folder / "folder")
    assert values["numbers"] == [1, 2] and values["named"] == {"k": "v"}
    assert not (folder / "inputs.json").exists()


def test_proto_format_writes_only_inputs_pb(storage: Storage, tmp_path: Path) -> None:
    inputs = literals_pb2.LiteralMap(literals={"x": primitive(integer=1)})
    download_inputs(storage, inputs, tmp_path / "in", format=FORMATS.PROTO)
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == ["inputs.pb", "x"]


def test_other_scalars(storage: Storage, tmp_path: Path) -> None:
    generic = struct_pb2.Struct()
    generic.update({"a": 1})
    inputs = literals_pb2.LiteralMap(
        literals={
            "generic": literals_pb2.Literal(scalar=literals_pb2.Scalar(generic=generic)),
            "binary": literals_pb2.Literal(
                scalar=literals_pb2.Scalar(binary=literals_pb2.Binary(value=b"\x81\xa1a"))
            ),
            "none": literals_pb2.Literal(scalar=literals_pb2.Scalar(none_type=literals_pb2.Void())),
            "union": literals_pb2.Literal(
                scalar=literals_pb2.Scalar(union=literals_pb2.Union(value=primitive(integer=3)))
            ),
        }
    )
    download_inputs(storage, inputs, tmp_path / "in")
    assert json.loads((tmp_path / "in" / "generic").read_text()) == {"a": 1}
    assert (tmp_path / "in" / "binary").read_bytes() == b"\x81\xa1a"
    assert (tmp_path / "in" / "none").read_text() == "null"
    assert (tmp_path / "in" / "union").read_text() == "3"


def test_a_missing_input_blob_is_a_system_error(storage: Storage, tmp_path: Path) -> None:
    inputs = literals_pb2.LiteralMap(literals={"f": blob((tmp_path / "gone.txt").as_uri())})
    with pytest.raises(DataLoadingError) as caught:
        download_inputs(storage, inputs, tmp_path / "in")
    assert caught.value.code == "InputDownloadFailed"
    assert caught.value.kind is ErrorKind.SYSTEM
    assert str(caught.value).startswith(f"input 'f': cannot copy {(tmp_path / 'gone.txt').as_uri()!r} to ")


def test_an_input_without_a_file_form(storage: Storage, tmp_path: Path) -> None:
    inputs = literals_pb2.LiteralMap(literals={"x": literals_pb2.Literal()})
    with pytest.raises(DataLoadingError, match=r"^input 'x': a empty literal cannot be written as a file$"):
        download_inputs(storage, inputs, tmp_path / "in")


def test_outputs_are_read_back(storage: Storage, tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "folder" / "sub").mkdir(parents=True)
    (out / "i").write_text(" 42\n")
    (out / "f").write_text("2.5")
    (out / "s").write_text("  text \n")
    (out / "b").write_text("T")
    (out / "d").write_text("1h30m")
    (out / "t").write_text("2024-05-06T07:08:09+02:00")
    (out / "g").write_text('{"k": [1, 2]}')
    (out / "n").write_text("")
    (out / "report.csv").write_text("a,b")  # an extension is accepted, as copilot does
    (out / "folder" / "one").write_text("1")
    (out / "folder" / "sub" / "two").write_text("2")
    outputs = variables(
        i=simple(SIMPLE.INTEGER),
        f=simple(SIMPLE.FLOAT),
        s=simple(SIMPLE.STRING),
        b=simple(SIMPLE.BOOLEAN),
        d=simple(SIMPLE.DURATION),
        t=simple(SIMPLE.DATETIME),
        g=simple(SIMPLE.STRUCT),
        n=simple(SIMPLE.NONE),
        report=file_type("csv"),
        folder=file_type(multipart=True),
    )
    prefix = (tmp_path / "meta").as_uri()
    raw = (tmp_path / "raw").as_uri()
    literals = upload_outputs(storage, outputs, out, output_prefix=prefix, raw_output_prefix=raw)
    assert storage.read_proto(f"{prefix}/outputs.pb", literals_pb2.LiteralMap) == literals
    values = {k: v.scalar for k, v in literals.literals.items()}
    assert values["i"].primitive.integer == 42
    assert values["f"].primitive.float_value == 2.5
    assert values["s"].primitive.string_value == "text"
    assert values["b"].primitive.boolean is True
    assert values["d"].primitive.duration.ToSeconds() == 5400
    assert values["t"].primitive.datetime.ToDatetime() == datetime.datetime(2024, 5, 6, 5, 8, 9)
    assert dict(values["g"].generic) == {"k": [1.0, 2.0]}
    assert values["n"].HasField("none_type")
    # The local store's blobs are recorded by their plain paths (flytekit cannot open file:// ones).
    assert values["report"].blob.uri == f"{tmp_path}/raw/report"
    assert values["report"].blob.metadata.type.format == "csv"
    assert storage.read(f"{raw}/report") == b"a,b"
    assert values["folder"].blob.metadata.type.dimensionality == types_pb2.BlobType.MULTIPART
    assert sorted(storage.list(f"{raw}/folder/")) == [f"{raw}/folder/one", f"{raw}/folder/sub/two"]


@pytest.mark.parametrize(
    ("kind", "text", "message"),
    [
        (SIMPLE.INTEGER, "4.5", "not an integer"),
        (SIMPLE.INTEGER, str(2**63), "out of the 64-bit integer range"),
        (SIMPLE.FLOAT, "1_0", "not a number"),
        (SIMPLE.BOOLEAN, "yes", r"not a boolean \(true, false, 1, 0, t, f\)"),
        (SIMPLE.DURATION, "5 minutes", r"not a duration \(such as 300ms, 1.5h, 2h45m\)"),
        (
            SIMPLE.DATETIME,
            "2024-05-06",
            r"not an RFC 3339 date and time \(it needs a time and a zone offset or Z\)",
        ),
        (SIMPLE.DATETIME, "yesterday", "not an RFC 3339 date and time"),
        (SIMPLE.STRUCT, "[1]", "not a JSON object"),
    ],
)
def test_unreadable_primitives(storage: Storage, tmp_path: Path, kind: int, text: str, message: str) -> None:
    (tmp_path / "x").write_text(text)
    expected = rf"^output 'x': cannot read {re.escape(repr(text))} from .*: {message}"
    with pytest.raises(DataLoadingError, match=expected) as caught:
        upload_outputs(
            storage,
            variables(x=simple(kind)),
            tmp_path,
            output_prefix="file:///unused",
            raw_output_prefix="file:///u",
        )
    assert (caught.value.code, caught.value.kind) == ("OutputUploadFailed", ErrorKind.USER)


def test_output_errors(storage: Storage, tmp_path: Path) -> None:
    def upload(outputs: interface_pb2.VariableMap) -> None:
        upload_outputs(
            storage, outputs, tmp_path, output_prefix="file:///unused", raw_output_prefix="file:///u"
        )

    with pytest.raises(
        DataLoadingError, match=r"^output 'x': the task wrote no file '.*/x' in its output folder$"
    ):
        upload(variables(x=simple(SIMPLE.INTEGER)))
    (tmp_path / "big").write_text("1" * 1025)
    with pytest.raises(DataLoadingError, match=r"has 1025 bytes; a INTEGER value is read from at most 1024$"):
        upload(variables(big=simple(SIMPLE.INTEGER)))
    (tmp_path / "folder").mkdir()
    with pytest.raises(
        DataLoadingError, match=r"^output 'folder': expected a file for a STRING value, found the"
    ):
        upload(variables(folder=simple(SIMPLE.STRING)))
    listing = types_pb2.LiteralType(collection_type=simple(SIMPLE.INTEGER))
    with pytest.raises(
        DataLoadingError,
        match=r"^output 'many': copilot reads only files, folders and simple types back, not a collection_type value$",
    ):
        upload(variables(many=listing))
    (tmp_path / "_ERROR").write_text("the input was bad")
    with pytest.raises(DataLoadingError, match=r"^User Error: the input was bad$"):
        upload(variables(x=simple(SIMPLE.INTEGER)))
    (tmp_path / "_ERROR").write_text("e" * (1024 * 1024 + 1))
    with pytest.raises(DataLoadingError, match=r"^the error file '.*_ERROR' is larger than 1 MiB$"):
        upload(variables(x=simple(SIMPLE.INTEGER)))


def test_error_documents(storage: Storage, tmp_path: Path) -> None:
    prefix = tmp_path.as_uri()
    uri = write_error_document(storage, prefix, DataLoadingError("OutputUploadFailed", "why", ErrorKind.USER))
    document = storage.read_proto(uri, errors_pb2.ErrorDocument)
    assert document.error.code == "OutputUploadFailed"
    assert document.error.message == "why"
    assert document.error.kind == errors_pb2.ContainerError.RECOVERABLE
    assert document.error.origin == execution_pb2.ExecutionError.USER
    write_error_document(storage, prefix, DataLoadingError("InputDownloadFailed", "gone", ErrorKind.SYSTEM))
    assert (
        storage.read_proto(uri, errors_pb2.ErrorDocument).error.origin == execution_pb2.ExecutionError.SYSTEM
    )


def test_paths_are_substituted_as_whole_path_parts() -> None:
    folders = {"/var/inputs": "/tmp/a/in", "/var/outputs/": "/tmp/a/out"}
    args = [
        "sh",
        "-c",
        "cat /var/inputs/x > /var/outputs/y; ls /var/inputs",
        "--dir=/var/inputs",
        "/var/inputsfoo",
        "/other/var/inputs",
        "/var/outputs",
    ]
    assert substitute_paths(args, folders) == [
        "sh",
        "-c",
        "cat /tmp/a/in/x > /tmp/a/out/y; ls /tmp/a/in",
        "--dir=/tmp/a/in",
        "/var/inputsfoo",
        "/other/var/inputs",
        "/tmp/a/out",
    ]
    assert substitute_paths(["/data/out/x", "/data/y"], {"/data": "/L/in", "/data/out": "/L/out"}) == [
        "/L/out/x",
        "/L/in/y",
    ]


def test_config_and_paths() -> None:
    task = tasks_pb2.TaskTemplate(container=tasks_pb2.Container(image="x"))
    assert data_loading_config(task) is None
    task.container.data_config.enabled = True
    assert data_loading_config(task) is task.container.data_config
    assert data_paths(task.container.data_config) == (DEFAULT_INPUT_PATH, DEFAULT_OUTPUT_PATH)
    pod = tasks_pb2.TaskTemplate(
        k8s_pod=tasks_pb2.K8sPod(
            data_config=tasks_pb2.DataLoadingConfig(enabled=True, input_path="/in/", output_path="/out")
        )
    )
    assert data_paths(data_loading_config(pod)) == ("/in", "/out")  # type: ignore[arg-type]


def test_interfaces_travel_as_base64() -> None:
    interface = interface_pb2.TypedInterface(outputs=variables(x=simple(SIMPLE.INTEGER)))
    assert decode_interface(encode_interface(interface)) == interface
    with pytest.raises(DataLoadingError, match=r"^the interface is not a base64 TypedInterface: "):
        decode_interface("not base64!")
