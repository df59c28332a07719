"""flytekit's half of the interop tests; runs in a virtualenv with flytekit 1.16.31, never in Roost's.

    python flytekit_side.py WORK_DIR RAW_OUTPUT_PREFIX CASE...

For every case of ``interop_cases``: writes flytekit's LiteralType (``WORK_DIR/flytekit/<case>.type.pb``)
and its literal for the case's value (``<case>.literal.pb``, data under ``RAW_OUTPUT_PREFIX``), and
reads Roost's literal (``WORK_DIR/roost/<case>.literal.pb``) back into a Python value, recording its
canonical form. Results, and any error with its traceback, go to ``WORK_DIR/flytekit-results.json``.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import Any

from flyteidl.core import literals_pb2
from flytekit.core.context_manager import FlyteContextManager
from flytekit.core.data_persistence import FileAccessProvider
from flytekit.core.type_engine import TypeEngine
from flytekit.models.literals import Literal
from flytekit.types.directory import FlyteDirectory
from flytekit.types.file import FlyteFile
from flytekit.types.structured import StructuredDataset

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import interop_cases


def main(work_dir: str, raw_output_prefix: str, names: list[str]) -> None:
    """Run the named cases; see the module docstring."""
    side = interop_cases.Side("flytekit", FlyteFile, FlyteDirectory, StructuredDataset)
    cases = {name: case for name, case in interop_cases.build_cases(side).items() if name in names}
    out_dir = os.path.join(work_dir, "flytekit")
    os.makedirs(out_dir, exist_ok=True)
    access = FileAccessProvider(
        local_sandbox_dir=os.path.join(work_dir, "flytekit-sandbox"),
        raw_output_prefix=raw_output_prefix,
    )
    results: dict[str, dict[str, Any]] = {}
    base = FlyteContextManager.current_context()
    with FlyteContextManager.with_context(base.with_file_access(access)) as ctx:
        for name, case in cases.items():
            result: dict[str, Any] = {}
            results[name] = result
            try:
                literal_type = TypeEngine.to_literal_type(case.python_type)
                _write(out_dir, f"{name}.type.pb", literal_type.to_flyte_idl().SerializeToString())
                value = case.make(os.path.join(work_dir, "flytekit-data", name))
                literal = TypeEngine.to_literal(ctx, value, case.python_type, literal_type)
                _write(out_dir, f"{name}.literal.pb", literal.to_flyte_idl().SerializeToString())
            except Exception:
                result["write_error"] = traceback.format_exc()
            roost_literal = os.path.join(work_dir, "roost", f"{name}.literal.pb")
            if not os.path.exists(roost_literal):
                continue
            try:
                with open(roost_literal, "rb") as file:
                    proto = literals_pb2.Literal.FromString(file.read())
                read = TypeEngine.to_python_value(ctx, Literal.from_flyte_idl(proto), case.python_type)
                result["read"] = interop_cases.canonical(read)
            except Exception:
                result["read_error"] = traceback.format_exc()
        results["file_uri_probe"] = _probe_file_uri(ctx, work_dir)
    with open(os.path.join(work_dir, "flytekit-results.json"), "w") as file:
        json.dump(results, file, indent=1, sort_keys=True)


def _probe_file_uri(ctx: Any, work_dir: str) -> dict[str, Any]:
    """Whether flytekit opens a FlyteFile whose blob URI is ``file://`` (why Roost records plain paths)."""
    path = os.path.join(work_dir, "probe.txt")
    with open(path, "w") as file:
        file.write("probe")
    blob = literals_pb2.Blob(
        uri=f"file://{path}", metadata=literals_pb2.BlobMetadata(type={"dimensionality": 0})
    )
    literal = Literal.from_flyte_idl(literals_pb2.Literal(scalar=literals_pb2.Scalar(blob=blob)))
    try:
        with open(TypeEngine.to_python_value(ctx, literal, FlyteFile)) as file:
            return {"read": file.read()}
    except Exception as exc:
        return {"read_error": str(exc)}


def _write(folder: str, name: str, data: bytes) -> None:
    with open(os.path.join(folder, name), "wb") as file:
        file.write(data)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
