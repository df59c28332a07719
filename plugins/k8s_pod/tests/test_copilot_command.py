"""``roost-copilot``'s messages and error documents (its normal runs are in test_copilot_pods.py)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from flyteidl.core import errors_pb2, interface_pb2, literals_pb2, types_pb2

from roost_core.copilot import encode_interface
from roost_k8s_pod import copilot


def error_of(prefix: Path) -> errors_pb2.ContainerError:
    return errors_pb2.ErrorDocument.FromString((prefix / "error.pb").read_bytes()).error


def interface(*outputs: str) -> str:
    integer = types_pb2.LiteralType(simple=types_pb2.SimpleType.INTEGER)
    variables = {name: interface_pb2.Variable(type=integer) for name in outputs}
    return encode_interface(
        interface_pb2.TypedInterface(outputs=interface_pb2.VariableMap(variables=variables))
    )


def upload(tmp_path: Path, *extra: str) -> tuple[int, str]:
    args = [
        "upload",
        "--output-prefix",
        (tmp_path / "meta").as_uri(),
        "--raw-output-prefix",
        (tmp_path / "raw").as_uri(),
    ]
    result = CliRunner().invoke(copilot.main, [*args, "--from-local-dir", str(tmp_path / "out"), *extra])
    return result.exit_code, result.output


def test_download_without_inputs_pb(tmp_path: Path) -> None:
    args = [
        "download",
        "--inputs",
        (tmp_path / "inputs.pb").as_uri(),
        "--output-prefix",
        (tmp_path / "meta").as_uri(),
    ]
    result = CliRunner().invoke(copilot.main, [*args, "--to-local-dir", str(tmp_path / "in")])
    assert result.exit_code == 1
    assert result.output.startswith("roost-copilot: cannot read the inputs: no blob at ")
    error = error_of(tmp_path / "meta")
    assert error.code == "InputDownloadFailed"
    assert error.message.startswith("cannot read the inputs: no blob at ")


def test_download_in_proto_format(tmp_path: Path) -> None:
    inputs = literals_pb2.LiteralMap(
        literals={
            "x": literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=3)))
        }
    )
    (tmp_path / "inputs.pb").write_bytes(inputs.SerializeToString())
    args = [
        "download",
        "--inputs",
        (tmp_path / "inputs.pb").as_uri(),
        "--output-prefix",
        (tmp_path / "meta").as_uri(),
    ]
    result = CliRunner().invoke(
        copilot.main, [*args, "--to-local-dir", str(tmp_path / "in"), "--format", "PROTO"]
    )
    assert result.exit_code == 0, result.output
    assert result.output == f"roost-copilot: wrote 1 input(s) into {tmp_path / 'in'}\n"
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == ["inputs.pb", "x"]


def test_upload_messages(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    assert upload(tmp_path, "--interface", interface()) == (0, "roost-copilot: the task has no outputs\n")
    code, output = upload(tmp_path, "--interface", "%%%")
    assert code == 0  # as Flyte's copilot: the error document is the outcome
    assert output.startswith("roost-copilot: the interface is not a base64 TypedInterface: ")
    assert error_of(tmp_path / "meta").code == "BadTaskSpecification"
    code, output = upload(tmp_path, "--interface", interface("y"))
    assert (
        output
        == f"roost-copilot: output 'y': the task wrote no file '{tmp_path / 'out' / 'y'}' in its output folder\n"
    )
    (tmp_path / "out" / "y").write_text("5")
    assert upload(tmp_path, "--interface", interface("y")) == (
        0,
        f"roost-copilot: uploaded 1 output(s) from {tmp_path / 'out'}\n",
    )


def test_an_upload_past_its_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def slow_upload(*args: object, **kwargs: object) -> None:
        time.sleep(5)

    monkeypatch.setattr(copilot, "upload_outputs", slow_upload)
    (tmp_path / "out").mkdir()
    code, output = upload(tmp_path, "--interface", interface("y"), "--timeout", "1")
    assert (code, output) == (0, "roost-copilot: the outputs were not uploaded within 1 s\n")
    error = error_of(tmp_path / "meta")
    assert (error.code, error.message) == ("OutputUploadFailed", "the outputs were not uploaded within 1 s")
