"""The MPI allreduce workflow (numbers → a 4-rank allreduce → check) with Roost and with flytekit 1.16 plus
flytekitplugins-kfmpi, side by side; prints times and ratios, asserts nothing.

nox -s bench -- mpi

Roost: `roost run examples/mpi_allreduce.py wf` (the MPI task runs 4 ranks under mpirun). flytekit:
`pyflyte run` of the same workflow written for flytekit (``tests/flytekit_project/mpi_flows.py``); flytekit's
local run has no MPI launcher, so its MPI task runs once, in-process, as a single rank: the ratio compares a
real 4-rank gang with flytekit's one-rank local stand-in, which flatters flytekit.

Each side runs once untimed first, with bytecode caching on (``PYTHONDONTWRITEBYTECODE`` dropped), so both
are timed as installed packages run: an environment that forbids ``.pyc`` files makes every process compile
its imports, which costs Roost's five processes more than flytekit's one. flytekit is timed twice: as it
runs (Open MPI's default transports, whose libfabric probing costs its ``MPI_Init`` about a second here) and
with the one-machine transports Roost's ``mpi-local`` handler chooses (``OMPI_MCA_btl=self,sm``).
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from roost_core.testing.virtualenv import cached_virtualenv, requirements_key

ROOT = Path(__file__).resolve().parents[3]
FLYTEKIT_PROJECT = Path(__file__).resolve().parents[1] / "tests" / "flytekit_project"
REPEATS = 3
N = "1000"


def best_of(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    """The fastest of ``REPEATS`` runs after an untimed one, in seconds; a failing run stops the benchmark."""
    times = []
    for _ in range(REPEATS + 1):
        started = time.perf_counter()
        run = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)
        times.append(time.perf_counter() - started)
        if run.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed:\n{run.stdout}\n{run.stderr}")
    return min(times[1:])


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        inherited = {
            k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "OMPI_MCA_btl")
        }
        env = {**inherited, "ROOST_CACHE_DIR": f"{scratch}/cache", "XDG_DATA_HOME": f"{scratch}/data"}
        roost = str(Path(sys.executable).with_name("roost"))
        roost_time = best_of(
            [roost, "run", "--no-progress", "-o", "json", "mpi_allreduce.py", "wf", "--n", N],
            ROOT / "examples",
            env,
        )
        requirements = [
            "flytekit==1.16.31",
            "flytekitplugins-kfmpi==1.16.31",
            *(f"{name}=={importlib.metadata.version(name)}" for name in ("openmpi", "mpi4py")),
        ]
        folder = Path(tempfile.gettempdir()) / f"roost-bench-mpi-flytekit-{requirements_key(requirements)}"
        venv = cached_virtualenv(folder, requirements)
        flytekit_env = {**env, "HOME": scratch, "FLYTE_SDK_LOGGING_LEVEL": "40"}
        pyflyte = [str(venv / "bin" / "pyflyte"), "run", "mpi_flows.py", "wf", "--n", N]
        flytekit_time = best_of(pyflyte, FLYTEKIT_PROJECT, flytekit_env)
        flytekit_sm_time = best_of(pyflyte, FLYTEKIT_PROJECT, {**flytekit_env, "OMPI_MCA_btl": "self,sm"})
    print(f"mpi allreduce workflow (3 tasks, n={N}), best of {REPEATS} after a warm-up run:")
    print(f"  roost run  (4 ranks under mpirun):                  {roost_time:6.2f} s")
    print(f"  pyflyte run (kfmpi task as 1 local rank):           {flytekit_time:6.2f} s")
    print(f"  pyflyte run, one-machine transports (btl self,sm):  {flytekit_sm_time:6.2f} s")
    print(f"  ratio roost / flytekit: {roost_time / flytekit_time:.2f}")
    print(f"  ratio roost / flytekit with the same transports: {roost_time / flytekit_sm_time:.2f}")


if __name__ == "__main__":
    main()
