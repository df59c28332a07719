"""The checks every request gets before its handler: what they refuse, what they leave alone (the data inside
literals), and how they name the field."""

from __future__ import annotations

import pytest
from flyteidl.admin import common_pb2, execution_pb2, task_pb2
from flyteidl.core import literals_pb2, tasks_pb2, types_pb2
from flyteidl.service import dataproxy_pb2
from google.protobuf import duration_pb2, struct_pb2, timestamp_pb2

from roost_admin.errors import InvalidArgument
from roost_admin.services.request_checks import RequestLimits, check_request

LIMITS = RequestLimits(string_bytes=32, list_items=4, inputs=2, literal_depth=3)


def string_literal(value: str) -> literals_pb2.Literal:
    return literals_pb2.Literal(
        scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(string_value=value))
    )


def refusal(message) -> str:
    with pytest.raises(InvalidArgument) as raised:
        check_request(message, LIMITS)
    return raised.value.message


def test_the_data_inside_literals_is_left_alone():
    data = literals_pb2.LiteralMap(
        literals={
            "text": string_literal("a\x00b" + "x" * 100),
            "nan": literals_pb2.Literal(
                scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(float_value=float("nan")))
            ),
        }
    )
    check_request(execution_pb2.ExecutionCreateRequest(inputs=data), LIMITS)
    # A map literal is one value: its entries count as list items, not as inputs.
    three = literals_pb2.Literal(
        map=literals_pb2.LiteralMap(literals={f"k{i}": string_literal("v") for i in range(3)})
    )
    check_request(
        execution_pb2.ExecutionCreateRequest(inputs=literals_pb2.LiteralMap(literals={"m": three})), LIMITS
    )


def test_what_no_literal_may_hold_is_still_refused_inside_one():
    blob = literals_pb2.Literal(
        scalar=literals_pb2.Scalar(
            blob=literals_pb2.Blob(
                metadata=literals_pb2.BlobMetadata(type=types_pb2.BlobType(dimensionality=5))
            )
        )
    )
    request = execution_pb2.ExecutionCreateRequest(inputs=literals_pb2.LiteralMap(literals={"f": blob}))
    assert refusal(request) == (
        "request field 'inputs.literals['f'].scalar.blob.metadata.type.dimensionality' has the unknown value 5; "
        "known: SINGLE, MULTIPART"
    )
    stamp = literals_pb2.Literal(
        scalar=literals_pb2.Scalar(
            primitive=literals_pb2.Primitive(datetime=timestamp_pb2.Timestamp(seconds=-62_135_596_801))
        )
    )
    request = execution_pb2.ExecutionCreateRequest(inputs=literals_pb2.LiteralMap(literals={"t": stamp}))
    assert refusal(request).startswith(
        "request field 'inputs.literals['t'].scalar.primitive.datetime' is not a valid timestamp"
    )


def test_strings_outside_literals():
    assert (
        refusal(execution_pb2.ExecutionCreateRequest(name="a\x00"))
        == "request field 'name' contains a NUL character"
    )
    # Bytes, not characters, are measured: 11 three-byte characters are 33 bytes.
    assert refusal(execution_pb2.ExecutionCreateRequest(name="€" * 11)) == (
        "request field 'name' is 33 bytes long; the limit is 32 (setting max_string_bytes)"
    )
    check_request(execution_pb2.ExecutionCreateRequest(name="€" * 10), LIMITS)
    labels = execution_pb2.ExecutionSpec(labels=common_pb2.Labels(values={"k\x00": "v"}))
    assert refusal(execution_pb2.ExecutionCreateRequest(spec=labels)) == (
        "request field 'spec.labels.values['k\\x00']' contains a NUL character"
    )


def test_floats_outside_literals_are_finite():
    custom = struct_pb2.Struct()
    custom.update({"ratio": float("inf")})
    request = task_pb2.TaskCreateRequest(
        spec=task_pb2.TaskSpec(template=tasks_pb2.TaskTemplate(custom=custom))
    )
    assert refusal(request) == (
        "request field 'spec.template.custom.fields['ratio'].number_value' must be a finite number, not inf"
    )


@pytest.mark.parametrize(
    ("seconds", "nanos", "valid"),
    [
        (315_576_000_000, 999_999_999, True),
        (-315_576_000_000, -999_999_999, True),
        (315_576_000_001, 0, False),
        (1, -1, False),
        (-1, 1, False),
        (0, 1_000_000_000, False),
    ],
)
def test_durations_within_protobufs_range(seconds, nanos, valid):
    request = dataproxy_pb2.CreateUploadLocationRequest(
        expires_in=duration_pb2.Duration(seconds=seconds, nanos=nanos)
    )
    if valid:
        check_request(request, LIMITS)
    else:
        assert refusal(request).startswith("request field 'expires_in' is not a valid duration")


def test_lists_inputs_and_depth():
    many = execution_pb2.ExecutionCreateRequest(
        inputs=literals_pb2.LiteralMap(literals={f"x{i}": string_literal("v") for i in range(3)})
    )
    assert (
        refusal(many) == "request field 'inputs.literals' has 3 entries; the limit is 2 (setting max_inputs)"
    )
    items = [string_literal("v")] * 5
    collection = literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=items))
    request = execution_pb2.ExecutionCreateRequest(
        inputs=literals_pb2.LiteralMap(literals={"xs": collection})
    )
    assert refusal(request) == (
        "request field 'inputs.literals['xs'].collection.literals' has 5 items; the limit is 4 "
        "(setting max_list_items)"
    )
    deep = string_literal("v")
    for _ in range(3):
        deep = literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=[deep]))
    request = execution_pb2.ExecutionCreateRequest(inputs=literals_pb2.LiteralMap(literals={"d": deep}))
    assert refusal(request).endswith("nests literals more than 3 deep (setting max_literal_depth)")
