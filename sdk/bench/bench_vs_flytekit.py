"""Roost's SDK side by side with flytekit 1.16 on the same machine, in the same run; prints times and ratios.

    python sdk/bench/bench_vs_flytekit.py

flytekit is installed in a virtualenv of its own, made once (kept in the user cache folder) by the builder the
end-to-end tests use (``roost_core.testing.virtualenv``), with the same flytekit pin. Every scenario runs in a
fresh process of each framework: the same script, with only the import line different. Nothing is asserted;
the targets are in the printed table.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

FLYTEKIT = "flytekit==1.16.31"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "roost"

SCENARIOS: dict[str, str] = {
    "chain of 100 trivial tasks (s per task)": """
        @task
        def inc(x: int) -> int:
            return x + 1

        @workflow
        def chain(x: int) -> int:
            for _ in range(100):
                x = inc(x=x)
            return x

        result = best_of(5, lambda: chain(x=0)) / 100
    """,
    "8 independent tasks sleeping 0.5 s (wall s)": """
        @task
        def nap(i: int) -> int:
            time.sleep(0.5)
            return i

        @workflow
        def naps() -> list[int]:
            return [nap(i=i) for i in range(8)]

        result = best_of(3, naps)
    """,
    "1e6-row DataFrame through 3 tasks (s)": """
        import numpy as np
        import pandas as pd

        @task
        def make(n: int) -> pd.DataFrame:
            return pd.DataFrame({"a": np.arange(n), "b": np.arange(n, dtype=float)})

        @task
        def shift(df: pd.DataFrame) -> pd.DataFrame:
            df["a"] = df["a"] + 1
            return df

        @task
        def total(df: pd.DataFrame) -> float:
            return float(df["b"].sum())

        @workflow
        def frames(n: int) -> float:
            return total(df=shift(df=make(n=n)))

        result = best_of(3, lambda: frames(n=1_000_000))
    """,
    "map over 1,000 items (s)": """
        @task
        def square(x: int) -> int:
            return x * x

        @workflow
        def squares(xs: list[int]) -> list[int]:
            return map_task(square)(x=xs)

        result = best_of(5, lambda: squares(xs=list(range(1000))))
    """,
    "map over 1,000 items (CPU s)": """
        @task
        def square(x: int) -> int:
            return x * x

        @workflow
        def squares(xs: list[int]) -> list[int]:
            return map_task(square)(x=xs)

        result = best_of(5, lambda: squares(xs=list(range(1000))), clock=time.process_time)
    """,
}

TARGETS = {
    "import (s)": "roost ≤ 0.15 s and ≥ 8x faster",
    "chain of 100 trivial tasks (s per task)": "≥ 5x less per task",
    "8 independent tasks sleeping 0.5 s (wall s)": "roost ≤ 0.8 s",
    "1e6-row DataFrame through 3 tasks (s)": "≥ 3x faster",
    "map over 1,000 items (s)": "≥ 3x faster",
    "map over 1,000 items (CPU s)": "≥ 3x faster (CPU time: steadier on a busy machine)",
}


def flytekit_python() -> str:
    """A python with flytekit (and the pandas the scenarios use), made on first use."""
    from roost_core.testing.virtualenv import cached_virtualenv, requirements_key

    requirements = (FLYTEKIT, "pandas", "pyarrow")
    folder = CACHE / f"bench-flytekit-venv-{requirements_key(requirements)}"
    if not (folder / "installed").exists():
        print(f"making a virtualenv with {FLYTEKIT} in {folder} (once)...", flush=True)
    return str(cached_virtualenv(folder, requirements) / "bin" / "python")


def script(framework: str, body: str) -> str:
    """The scenario as a program of the given framework printing its result as JSON."""
    header = (
        "import time\nimport logging\nlogging.disable(logging.WARNING)\n"
        f"from {framework} import map_task, task, workflow\n\n"
        "def best_of(times, call, clock=time.perf_counter):\n"
        "    best = float('inf')\n"
        "    for _ in range(times):\n"
        "        start = clock()\n"
        "        call()\n"
        "        best = min(best, clock() - start)\n"
        "    return best\n"
    )
    return header + textwrap.dedent(body) + "\nimport json\nprint(json.dumps(result))\n"


def run(python: str, source: str) -> float:
    """Run the scenario from a file (flytekit reads task sources, which `-c` code has not)."""
    with tempfile.TemporaryDirectory(prefix="roost-bench-") as folder:
        path = Path(folder) / "scenario.py"
        path.write_text(source)
        env = {**os.environ, "ROOST_CACHE_DIR": str(Path(folder) / "cache"), "FLYTE_SDK_LOGGING_LEVEL": "40"}
        out = subprocess.run(
            [python, str(path)], capture_output=True, text=True, env=env, check=False, timeout=900, cwd=folder
        )
    if out.returncode:
        raise RuntimeError(f"{python} failed:\n{out.stderr[-3000:]}")
    return float(json.loads(out.stdout.strip().splitlines()[-1]))


def import_time(python: str, module: str) -> float:
    """Median wall time of importing ``module`` in a fresh interpreter, minus the interpreter's own start."""

    def wall(code: str) -> float:
        samples = []
        for _ in range(7):
            start = time.perf_counter()
            subprocess.run([python, "-c", code], check=True, capture_output=True)
            samples.append(time.perf_counter() - start)
        return statistics.median(samples)

    return max(0.0, wall(f"import {module}") - wall("pass"))


def main() -> None:
    fk = flytekit_python()
    rows: list[tuple[str, float, float]] = []
    rows.append(("import (s)", import_time(sys.executable, "roost"), import_time(fk, "flytekit")))
    for name, body in SCENARIOS.items():
        rows.append((name, run(sys.executable, script("roost", body)), run(fk, script("flytekit", body))))
    width = max(len(name) for name, _, _ in rows)
    print(f"{'scenario':<{width}}  {'roost':>10}  {'flytekit':>10}  {'ratio':>7}  target")
    for name, ours, theirs in rows:
        ratio = theirs / ours if ours else float("inf")
        print(f"{name:<{width}}  {ours:>10.4f}  {theirs:>10.4f}  {ratio:>6.1f}x  {TARGETS[name]}")


if __name__ == "__main__":
    main()
