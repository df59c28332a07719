"""The floor of one flytekit map index: flytekit's own work for an index (``pyflyte-map-execute``), in a process
forked from an interpreter that imported flytekit's entry point and the task's module, one index at a time.

    FLYTEKIT_VENV/bin/python _flytekit_map_floor.py ITEMS SAMPLES   # in the folder of chain.py

Run by ``bench_flytekit_chain.py`` with flytekit's virtualenv (this module imports flytekit, which the bench's own
environment does not have). Prints the median seconds per index. The inputs are a list of ITEMS integers, as flytekit's
map contract hands every index the whole list.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from flyteidl.core import literals_pb2
from flytekit.bin import entrypoint

RESOLVER_ARGS = [
    "vars",
    "",
    "resolver",
    "flytekit.core.python_auto_container.default_task_resolver",
    "task-module",
    "chain",
    "task-name",
    "square",
]
"""What `pyflyte register` gives the map task of ``chain.squares`` as its resolver's arguments."""


def index_seconds(items: int, samples: int) -> float:
    """Median seconds to fork this interpreter, run one index of the map over ``items`` in the child, and reap it."""
    sys.path.insert(0, os.getcwd())
    __import__("chain")
    inputs = literals_pb2.LiteralMap()
    for item in range(items):
        inputs.literals["x"].collection.literals.add().scalar.primitive.integer = item
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "inputs.pb").write_bytes(inputs.SerializeToString())
        return statistics.median(_index(folder, index % items, str(index)) for index in range(samples))


def _index(folder: Path, index: int, output: str) -> float:
    """Seconds to run map index ``index`` in a forked child, its outputs under ``folder/output``."""
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.environ.update({"BATCH_JOB_ARRAY_INDEX_VAR_NAME": "INDEX", "INDEX": str(index)})
        args = ["--inputs", (folder / "inputs.pb").as_uri(), "--output-prefix", (folder / output).as_uri()]
        args += [
            "--raw-output-data-prefix",
            (folder / "raw").as_uri(),
            "--resolver",
            "flytekit.core.array_node_map_task.ArrayNodeMapTaskResolver",
            "--",
        ]
        try:
            entrypoint.map_execute_task_cmd.main(args=args + RESOLVER_ARGS)
        except SystemExit as exc:
            os._exit(exc.code if isinstance(exc.code, int) else 1)
        os._exit(0)
    _pid, status = os.waitpid(pid, 0)
    seconds = time.perf_counter() - start
    if status or not (folder / output / "outputs.pb").exists():
        raise SystemExit(f"index {index} failed (wait status {status})")
    return seconds


if __name__ == "__main__":
    print(index_seconds(int(sys.argv[1]), int(sys.argv[2])))
