"""Spark → pandas → Spark, with Roost (roost-spark) and with flytekit 1.16 + flytekitplugins-spark, side by side;
prints times and ratios, asserts nothing.

nox -s bench -- spark

Each side runs in a fresh process (so each pays for its imports and its first JVM), the workflow ROUNDS times:
the first run includes starting Spark, the later ones show what reusing the session gives. flytekit's side runs
in a virtualenv built with uv on first use (kept in the temporary folder).
"""

from __future__ import annotations

import importlib.metadata
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from roost_core.testing.virtualenv import cached_virtualenv, requirements_key

HERE = Path(__file__).parent
ROWS = 100_000
ROUNDS = 4


def flytekit_python() -> str:
    requirements = [
        "flytekit==1.16.31",
        "flytekitplugins-spark==1.16.31",
        f"pyspark=={importlib.metadata.version('pyspark')}",
        "pandas<3",
        "pyarrow>=15",
    ]
    folder = Path(tempfile.gettempdir()) / f"roost-bench-flytekit-spark-{requirements_key(requirements)}"
    return str(cached_virtualenv(folder, requirements) / "bin" / "python")


def run(python: str, script: str) -> dict[str, Any]:
    started = time.perf_counter()
    done = subprocess.run(
        [python, str(HERE / script), str(ROWS), str(ROUNDS)],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
        cwd=HERE,
    )
    if done.returncode != 0:
        raise SystemExit(f"{script} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["process"] = time.perf_counter() - started
    return result


def main() -> None:
    roost = run(sys.executable, "roost_side.py")
    flytekit = run(flytekit_python(), "flytekit_side.py")
    assert roost["result"] == flytekit["result"], (roost["result"], flytekit["result"])
    print(
        f"Spark → pandas → Spark, {ROWS:,} rows, {ROUNDS} runs in one process (flytekit / Roost: >1 is Roost faster)"
    )
    rows = [
        ("whole process", flytekit["process"], roost["process"]),
        ("first run (starts Spark)", flytekit["seconds"][0], roost["seconds"][0]),
        (
            "later runs (median)",
            statistics.median(flytekit["seconds"][1:]),
            statistics.median(roost["seconds"][1:]),
        ),
    ]
    for label, theirs, ours in rows:
        print(f"  {label:26} flytekit {theirs:7.2f} s   roost {ours:7.2f} s   ratio {theirs / ours:5.2f}")


if __name__ == "__main__":
    main()
