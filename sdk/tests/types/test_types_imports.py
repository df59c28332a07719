"""``import roost.types``, and converting plain values, load no heavy library and write nothing to disk."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HEAVY = ("pandas", "pyarrow", "numpy", "polars", "pydantic", "cloudpickle")

PROBE = f"""
import os, sys, tempfile
before = set(os.listdir(tempfile.gettempdir()))
import roost.types
from roost.types import File, Directory, StructuredDataset, TypeContext, TypeEngine
from roost_core.storage import MemoryStore, Storage

engine = TypeEngine.with_builtins()
with TypeContext(Storage({{"mem": MemoryStore()}}), "mem://b/raw") as ctx:
    for python_type, value in [(int, 1), (list[str], ["a"]), (dict, {{"k": 1}}), (float | None, None)]:
        assert engine.to_python_value(ctx, engine.to_literal(ctx, value, python_type), python_type) == value
    engine.to_literal_type(File)
    engine.to_literal_type(StructuredDataset)
loaded = [name for name in {HEAVY!r} if name in sys.modules]
assert not loaded, loaded
assert set(os.listdir(tempfile.gettempdir())) == before
print("ok")
"""


def test_import_is_light(tmp_path: Path) -> None:
    # A private temp folder, so that other programs' files cannot disturb the check.
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    run = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=False, env=env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ok"
