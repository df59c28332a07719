"""A task's container program for Pod tests (the package's and its conformance subject's): speaks the
container contract over file:// storage; the test kubelet runs it as the pod's process.

    python task_program.py MODE INPUTS_URI OUTPUT_PREFIX [ARG ...]

``double`` writes o0 = 2 * x (``gate FILE`` too, once FILE exists); ``add`` writes sum = a + b; ``env NAME...`` writes each variable's value;
``error`` writes error.pb and exits 0 (as flytekit does); ``fail`` prints lines and exits 3; ``sleep``
sleeps until killed; ``nap SECONDS`` sleeps that long, then doubles; ``nothing`` exits 0.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from flyteidl.core import errors_pb2, execution_pb2, literals_pb2
from google.protobuf.message import Message


def path_of(uri: str) -> Path:
    """The local path of a ``file://`` URI."""
    assert uri.startswith("file://"), uri
    return Path(uri[len("file://") :])


def integer(value: int) -> literals_pb2.Literal:
    """An integer literal."""
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=value)))


def string(value: str) -> literals_pb2.Literal:
    """A string literal."""
    return literals_pb2.Literal(
        scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(string_value=value))
    )


def write(prefix: str, name: str, message: Message) -> None:
    """Write ``message`` as ``name`` under the output prefix."""
    target = path_of(prefix) / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(message.SerializeToString())


def main() -> int:
    """Run the mode the arguments name; the process's exit code."""
    mode, inputs_uri, output_prefix, *rest = sys.argv[1:]
    inputs = literals_pb2.LiteralMap()
    if mode not in ("sleep", "nothing"):
        inputs.ParseFromString(path_of(inputs_uri).read_bytes())
    if mode == "double":
        x = inputs.literals["x"].scalar.primitive.integer
        print(f"doubling {x}")
        write(output_prefix, "outputs.pb", literals_pb2.LiteralMap(literals={"o0": integer(2 * x)}))
    elif mode == "add":
        total = sum(inputs.literals[n].scalar.primitive.integer for n in ("a", "b"))
        write(output_prefix, "outputs.pb", literals_pb2.LiteralMap(literals={"sum": integer(total)}))
    elif mode == "env":
        seen = {name: string(os.environ.get(name, "<unset>")) for name in rest}
        write(output_prefix, "outputs.pb", literals_pb2.LiteralMap(literals=seen))
    elif mode == "error":
        document = errors_pb2.ErrorDocument(
            error=errors_pb2.ContainerError(
                code="USER:ValueError",
                message="the user code failed",
                kind=errors_pb2.ContainerError.NON_RECOVERABLE,
                origin=execution_pb2.ExecutionError.USER,
            )
        )
        write(output_prefix, "error.pb", document)
    elif mode == "fail":
        for number in range(30):
            print(f"noise line {number}")
        print("ValueError: the last words", flush=True)
        return 3
    elif mode == "gate":
        while not os.path.exists(rest[0]):
            time.sleep(0.05)
        x = inputs.literals["x"].scalar.primitive.integer
        write(output_prefix, "outputs.pb", literals_pb2.LiteralMap(literals={"o0": integer(2 * x)}))
    elif mode == "nap":
        time.sleep(float(rest[0]))
        x = inputs.literals["x"].scalar.primitive.integer
        write(output_prefix, "outputs.pb", literals_pb2.LiteralMap(literals={"o0": integer(2 * x)}))
    elif mode == "sleep":
        print("sleeping", flush=True)
        time.sleep(3600)
    elif mode != "nothing":
        print(f"unknown mode {mode}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
