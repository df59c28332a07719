"""Roost's type engine against flytekit 1.16.31, both ways, for every case of ``interop_cases``.

For each case: Roost's LiteralType equals flytekit's; flytekit reads Roost's literal back as the same value;
Roost reads flytekit's literal back as the same value; and where the literal holds no URI, both sides write
the very same literal. Files, folders and datasets go through one shared local folder, and again through
one S3 bucket (a local SeaweedFS server).
"""

from __future__ import annotations

import json
from pathlib import Path

import interop_cases
import pytest
from conftest import ROOST_SIDE, Interop
from google.protobuf import json_format

from roost.types import TypeContext, TypeEngine

pytestmark = [
    pytest.mark.flytekit,
    pytest.mark.timeout(900),
    pytest.mark.filterwarnings("ignore::roost.types.PickleFallbackWarning"),
]

CASES = interop_cases.build_cases(ROOST_SIDE)
SAME_LITERAL = [name for name, case in CASES.items() if case.same_literal]
STORED = [name for name, case in CASES.items() if not case.same_literal]


def _roost_written(interop: Interop, name: str) -> None:
    if name in interop.roost_errors:
        pytest.fail(f"Roost could not write {name}: {interop.roost_errors[name]}")


def _flytekit_written(interop: Interop, name: str) -> None:
    error = interop.flytekit[name].get("write_error")
    if error:
        pytest.fail(f"flytekit could not write {name}:\n{error}")


@pytest.mark.parametrize("name", list(CASES))
def test_literal_type_is_flytekits(interop: Interop, name: str, engine: TypeEngine) -> None:
    _flytekit_written(interop, name)
    ours = engine.to_literal_type(CASES[name].python_type)
    theirs = interop.flytekit_type(name)
    assert json_format.MessageToDict(ours) == json_format.MessageToDict(theirs)
    assert ours == theirs


@pytest.mark.parametrize("name", list(CASES))
def test_flytekit_reads_roost_literal(interop: Interop, name: str) -> None:
    _roost_written(interop, name)
    result = interop.flytekit[name]
    assert "read_error" not in result, result["read_error"]
    assert result["read"] == interop.expected[name]


@pytest.mark.parametrize("name", list(CASES))
def test_roost_reads_flytekit_literal(
    interop: Interop, name: str, engine: TypeEngine, ctx: TypeContext
) -> None:
    _flytekit_written(interop, name)
    value = engine.to_python_value(ctx, interop.flytekit_literal(name), CASES[name].python_type)
    assert json.loads(json.dumps(interop_cases.canonical(value))) == interop.expected[name]


@pytest.mark.parametrize("name", SAME_LITERAL)
def test_literal_is_flytekits(interop: Interop, name: str) -> None:
    _roost_written(interop, name)
    _flytekit_written(interop, name)
    assert interop.roost_literal(name) == interop.flytekit_literal(name)
