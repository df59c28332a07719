"""numbers → a Ray fan-out of 100 remote calls → a sentence, with Roost (roost-ray) and with flytekit 1.16 +
flytekitplugins-ray, side by side; prints times and ratios, asserts nothing.

nox -s bench -- ray

Each side runs in a fresh process (so each pays for its imports and its first Ray start), the workflow ROUNDS
times: the first run includes starting Ray, the later ones show what reusing the runtime gives (Roost keeps the
local runtime for the process; flytekit's local run keeps whatever ``ray.init`` left). flytekit's side runs in
the virtualenv the tests build (flytekit, flytekitplugins-ray), made with uv on first use in the temporary folder.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from roost_core.testing.virtualenv import cached_virtualenv, requirements_key

HERE = Path(__file__).parent
N = 100
ROUNDS = 6
# The requirements of the tests' flytekit virtualenv (tests/conftest.py), so one uv cache serves both.
FLYTEKIT_REQUIREMENTS = ("flytekit==1.16.31", "flytekitplugins-ray==1.16.31", "kubernetes>=30,<37")


def flytekit_python() -> str:
    folder = (
        Path(tempfile.gettempdir()) / f"roost-bench-flytekit-ray-{requirements_key(FLYTEKIT_REQUIREMENTS)}"
    )
    return str(cached_virtualenv(folder, FLYTEKIT_REQUIREMENTS) / "bin" / "python")


def run(python: str, script: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "ROOST_"))}
    with tempfile.TemporaryDirectory() as scratch:
        env.update({"HOME": scratch, "FLYTE_SDK_LOGGING_LEVEL": "40", "ROOST_CACHE_DIR": f"{scratch}/cache"})
        started = time.perf_counter()
        done = subprocess.run(
            [python, str(HERE / script), str(N), str(ROUNDS)],
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
            cwd=HERE,
            env=env,
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
    print(f"numbers → Ray fan-out of {N} remote calls → describe, {ROUNDS} runs in one process")
    print("(ratio flytekit / Roost: >1 is Roost faster)")
    rows = [
        ("whole process", flytekit["process"], roost["process"]),
        ("first run (starts Ray)", flytekit["seconds"][0], roost["seconds"][0]),
        (
            "later runs (median)",
            statistics.median(flytekit["seconds"][1:]),
            statistics.median(roost["seconds"][1:]),
        ),
    ]
    for label, theirs, ours in rows:
        print(f"  {label:24} flytekit {theirs:7.2f} s   roost {ours:7.2f} s   ratio {theirs / ours:5.2f}")


if __name__ == "__main__":
    main()
