"""The code of coded_program.py's tasks. Its import writes the importing process's pid to ``CODE_IMPORT_LOG``, then
fails when ``CODE_IMPORT_FAIL`` is set, and holds ``CODE_IMPORT_MB`` megabytes when that is set."""

from __future__ import annotations

import os

IMPORTED_IN = os.getpid()
with open(os.environ["CODE_IMPORT_LOG"], "a") as log:
    log.write(f"{IMPORTED_IN}\n")
if os.environ.get("CODE_IMPORT_FAIL"):
    raise RuntimeError("the code's import broke")
HELD = b"\1" * (int(os.environ.get("CODE_IMPORT_MB") or 0) << 20)
