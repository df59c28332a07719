"""A ten-task chain and a map over 1,000 items written with flytekit 1.16, registered with `pyflyte register`, run on
`roost start`:

the time from CreateExecution to SUCCEEDED (as GetExecution reports it) on the embedded default (SQLite, local
folder, two workers), one execution after another, and the cost per task next to its floors (forking a warm
interpreter, starting a cold ``python -c pass``; for the map's indices also flytekit's own work for one index in a
warm fork, ``_flytekit_map_floor.py``).

    python admin/bench/bench_flytekit_chain.py

flytekit is installed with uv in a virtualenv of its own (made once, kept in the user cache folder, shared
with the SDK's benchmark). Printed, never asserted.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from _bench_support import (
    DOMAIN,
    HERE,
    PROJECT,
    admin_stub,
    create_request,
    p50,
    percentile,
    print_table,
    running_admin,
)
from bench_executions import WORKERS, latencies, recorded_seconds, wait

from roost_core.testing.floors import cold_start_seconds, warm_fork_seconds

FLYTEKIT = "flytekit==1.16.31"
VENV = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "roost" / "bench-flytekit-venv"
RUNS = 5
MAP_ITEMS = 1000
CHAIN = textwrap.dedent(
    '''
    """Ten trivial flytekit tasks in a chain, and a map of a trivial task over x items."""

    from flytekit import map_task, task, workflow


    @task
    def add_one(x: int) -> int:
        return x + 1


    @task
    def numbers(x: int) -> list[int]:
        return list(range(x))


    @task
    def square(x: int) -> int:
        return x * x


    @workflow
    def squares(x: int) -> list[int]:
        return map_task(square)(x=numbers(x=x))


    @workflow
    def ten(x: int) -> int:
        value = x
        for _ in range(10):
            value = add_one(x=value)
        return value
    '''
)
DEFAULT_IMAGE = "from flytekit.configuration import DefaultImages; print(DefaultImages.default_image())"


def flytekit_venv() -> Path:
    """The virtualenv with flytekit, made on first use."""
    python = VENV / "bin" / "python"
    if not python.exists():
        print(f"making a virtualenv with {FLYTEKIT} in {VENV} (once)...", flush=True)
        subprocess.run(["uv", "venv", "--python", sys.executable, str(VENV)], check=True, capture_output=True)
        subprocess.run(
            ["uv", "pip", "install", "--python", str(python), FLYTEKIT], check=True, capture_output=True
        )
    return VENV


def main() -> None:
    """Register the chain with pyflyte, run it one execution at a time, and print the figures."""
    venv = flytekit_venv()
    image = subprocess.run(
        [str(venv / "bin" / "python"), "-c", DEFAULT_IMAGE], capture_output=True, text=True, check=True
    ).stdout.strip()
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder) / "project"
        project.mkdir()
        (project / "chain.py").write_text(CHAIN)
        local_process = {"image_environments": {image: str(venv)}}
        with (
            running_admin(Path(folder) / "admin", workers=WORKERS, local_process=local_process) as app,
            admin_stub(app) as stub,
        ):
            config = Path(folder) / "pyflyte.yaml"
            config.write_text(f"admin:\n  endpoint: dns:///127.0.0.1:{app.grpc_port}\n  insecure: true\n")
            register = [str(venv / "bin" / "pyflyte"), "--config", str(config), "register"]
            register += ["--project", PROJECT, "--domain", DOMAIN, "--version", "v1", "chain.py"]
            done = subprocess.run(register, cwd=project, capture_output=True, text=True, check=False)
            if done.returncode:
                raise SystemExit(f"pyflyte register failed:\n{done.stdout}\n{done.stderr}")
            chain = latencies(stub, "chain.ten", RUNS)
            wait(stub, stub.CreateExecution(create_request("chain.squares", 10)).id)  # warm up
            mapped = recorded_seconds(stub, "chain.squares", MAP_ITEMS)
        floor = [str(venv / "bin" / "python"), str(HERE / "_flytekit_map_floor.py"), str(MAP_ITEMS), "50"]
        index_floor = float(
            subprocess.run(floor, cwd=project, capture_output=True, text=True, check=True).stdout
        )
    python = str(venv / "bin" / "python")
    fork, cold = warm_fork_seconds("flytekit.bin.entrypoint", python), cold_start_seconds(python)
    cores = os.cpu_count() or 1
    per_task = p50(chain) / 10
    print_table(
        f"flytekit workflows on roost start, {WORKERS} engine workers in the admin's process",
        ["measurement", "value", "target"],
        [
            (
                "CreateExecution -> SUCCEEDED, SQLite, flytekit ten-task chain: p50",
                f"{p50(chain):.3f} s",
                "< 1 s",
            ),
            ("  p90", f"{percentile(chain, 0.9):.3f} s", ""),
            ("  per task", f"{per_task * 1000:.1f} ms", ""),
            ("  floor: fork of a warm interpreter", f"{fork * 1000:.2f} ms", ""),
            ("  per task / warm fork", f"{per_task / fork:.0f}x", "near 1x"),
            ("  floor: cold `python -c pass`", f"{cold * 1000:.1f} ms", ""),
            ("  per task / cold start", f"{per_task / cold:.1f}x", ""),
            (
                f"flytekit map over {MAP_ITEMS:,} items: CreateExecution -> SUCCEEDED",
                f"{mapped:.2f} s",
                "< 5 s",
            ),
            ("  per index / warm fork", f"{mapped / MAP_ITEMS / fork:.1f}x", ""),
            ("  floor: flytekit's own work for one index, forked warm", f"{index_floor * 1000:.1f} ms", ""),
            (
                f"  that floor for {MAP_ITEMS:,} indices on {cores} cores",
                f"{index_floor * MAP_ITEMS / cores:.2f} s",
                "",
            ),
            ("  map / that floor", f"{mapped / (index_floor * MAP_ITEMS / cores):.1f}x", ""),
        ],
        note=f"{RUNS} executions one after another; each task is a pyflyte-fast-execute process in flytekit's venv.",
    )


if __name__ == "__main__":
    main()
