"""Promises with attribute paths into dataclass and pydantic values (``dc.sd``, ``dc.files[0]``): plain
values come out as primitives, StructuredDatasets, files and folders as their own literals."""

from __future__ import annotations

import msgpack
import pytest
from flyte import INT, compile_, literal_map, task, value, workflow
from flyteidl.core import literals_pb2, types_pb2, workflow_pb2
from google.protobuf import struct_pb2

from roost_core.engine import WorkflowPhase

SD = types_pb2.LiteralType(
    structured_dataset_type=types_pb2.StructuredDatasetType(
        columns=[
            types_pb2.StructuredDatasetType.DatasetColumn(
                name="a", literal_type=types_pb2.LiteralType(simple=types_pb2.INTEGER)
            )
        ]
    )
)
FILE = types_pb2.LiteralType(blob=types_pb2.BlobType(format="csv"))
FOLDER = types_pb2.LiteralType(blob=types_pb2.BlobType(dimensionality=types_pb2.BlobType.MULTIPART))
FILES = types_pb2.LiteralType(collection_type=FILE)
MAYBE_FILE = types_pb2.LiteralType(
    union_type=types_pb2.UnionType(variants=[FILE, types_pb2.LiteralType(simple=types_pb2.NONE)])
)
RECORD = types_pb2.LiteralType(
    simple=types_pb2.STRUCT,
    structure=types_pb2.TypeStructure(
        dataclass_type={"sd": SD, "f": FILE, "d": FOLDER, "fs": FILES, "n": INT, "maybe": MAYBE_FILE}
    ),
)
RECORD_VALUE = {
    "sd": {"uri": "s3://bucket/frame", "file_format": "parquet"},
    "f": {"path": "s3://bucket/data.csv", "metadata": {"source": "upstream"}},
    "d": {"path": "s3://bucket/folder"},
    "fs": [{"path": "s3://bucket/one.csv"}, {"path": "s3://bucket/two.csv"}],
    "n": 3,
    "maybe": {"path": "s3://bucket/maybe.csv"},
}
PICKED = {"sd": SD, "f": FILE, "d": FOLDER, "fs": FILES, "n": INT, "maybe": MAYBE_FILE}
PICK = task("pick", "echo", PICKED)


def attribute(field: str) -> literals_pb2.BindingData:
    return literals_pb2.BindingData(
        promise=types_pb2.OutputReference(
            var="dc", attr_path=[types_pb2.PromiseAttribute(string_value=field)]
        )
    )


def picking_workflow():
    node = workflow_pb2.Node(
        id="n0",
        inputs=[literals_pb2.Binding(var=name, binding=attribute(name)) for name in PICKED],
        task_node=workflow_pb2.TaskNode(reference_id=PICK.id),
    )
    outputs = {
        name: literals_pb2.BindingData(promise=types_pb2.OutputReference(node_id="n0", var=name))
        for name in PICKED
    }
    template = workflow("picking", [node], {"dc": RECORD}, PICKED, outputs)
    return compile_(template, [PICK])


def msgpack_literal(data: dict) -> literals_pb2.Literal:
    packed = msgpack.packb(data, use_bin_type=True)
    return literals_pb2.Literal(
        scalar=literals_pb2.Scalar(binary=literals_pb2.Binary(value=packed, tag="msgpack"))
    )


def struct_literal(data: dict) -> literals_pb2.Literal:
    struct = struct_pb2.Struct()
    struct.update(data)
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(generic=struct))


@pytest.mark.parametrize("encode", [msgpack_literal, struct_literal], ids=["msgpack", "struct"])
def test_datasets_files_and_folders_reached_by_attribute_become_their_literals(kit, encode):
    run = kit.run(picking_workflow(), literal_map(dc=encode(RECORD_VALUE)))
    assert run.state.phase is WorkflowPhase.SUCCEEDED, run.state.error
    got = kit.engine.outputs(run).literals
    sd = got["sd"].scalar.structured_dataset
    assert sd.uri == "s3://bucket/frame"
    assert sd.metadata.structured_dataset_type.format == "parquet"
    assert [c.name for c in sd.metadata.structured_dataset_type.columns] == ["a"]
    assert got["f"].scalar.blob.uri == "s3://bucket/data.csv"
    assert got["f"].scalar.blob.metadata.type == FILE.blob
    assert dict(got["f"].metadata) == {"source": "upstream"}
    assert got["d"].scalar.blob.uri == "s3://bucket/folder"
    assert got["d"].scalar.blob.metadata.type.dimensionality == types_pb2.BlobType.MULTIPART
    assert [item.scalar.blob.uri for item in got["fs"].collection.literals] == [
        "s3://bucket/one.csv",
        "s3://bucket/two.csv",
    ]
    assert got["maybe"].scalar.blob.uri == "s3://bucket/maybe.csv"
    assert value(got["n"]) == 3


@pytest.mark.parametrize(
    ("field", "broken", "message"),
    [
        (
            "sd",
            {"file_format": "parquet"},
            "input 'sd': start-node.dc.sd is not a structured dataset: it has no 'uri' (keys: file_format)",
        ),
        ("d", {"uri": "s3://x"}, "input 'd': start-node.dc.d is not a folder: it has no 'path' (keys: uri)"),
        ("f", {}, "input 'f': start-node.dc.f is not a file: it has no 'path' (keys: none)"),
    ],
)
def test_a_value_lacking_its_location_fails_the_node_naming_the_input(kit, field, broken, message):
    run = kit.run(picking_workflow(), literal_map(dc=msgpack_literal({**RECORD_VALUE, field: broken})))
    assert run.state.phase is WorkflowPhase.FAILED
    assert run.state.error is not None
    assert run.state.error.message == f"node 'n0': {message}"
