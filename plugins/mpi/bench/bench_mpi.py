"""The MPI allreduce workflow (numbers → a 4-rank allreduce → check) with Roost and with flytekit 1.16 plus
flytekitplugins-kfmpi, side by side; prints times and ratios, asserts nothing.

nox -s bench -- mpi

Roost: `roost run examples/mpi_allreduce.py wf` (the MPI task runs 4 ranks under mpirun). flytekit:
`pyflyte run` of the same workflow written for flytekit (``tests/flytekit_project/mpi_flows.py``); flytekit's
local run has no MPI launcher, so its MPI task runs once, in-process, as a single rank: the ratio compares a
real 4-rank gang with flytekit's one-rank local stand-in, which flatters flytekit.

The three runs take turns, after an untimed round, with bytecode caching on (``PYTHONDONTWRITEBYTECODE`` dropped), so both
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
REPEATS = 4
N = "1000"


def interleaved(runs: dict[str, tuple[list[str], Path, dict[str, str]]]) -> dict[str, float]:
    """The fastest of ``REPEATS`` runs of each command, in seconds, after an untimed round; the commands take
    turns, so that a change in the machine's load weighs on each alike. A failing run stops the benchmark."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for round_ in range(REPEATS + 1):
        for name, (argv, cwd, env) in runs.items():
            started = time.perf_counter()
            run = subprocess.run(
                argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
            )
            if run.returncode != 0:
                raise SystemExit(f"{' '.join(argv)} failed:\n{run.stdout}\n{run.stderr}")
            if round_:
                times[name].append(time.perf_counter() - started)
    return {name: min(found) for name, found in times.items()}


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        inherited = {
            k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "OMPI_MCA_btl")
        }
        env = {**inherited, "ROOST_CACHE_DIR": f"{scratch}/cache", "XDG_DATA_HOME": f"{scratch}/data"}
        roost = str(Path(sys.executable).with_name("roost"))
        requirements = [
            "flytekit==1.16.31",
            "flytekitplugins-kfmpi==1.16.31",
            *(f"{name}=={importlib.metadata.version(name)}" for name in ("openmpi", "mpi4py")),
        ]
        folder = Path(tempfile.gettempdir()) / f"roost-bench-mpi-flytekit-{requirements_key(requirements)}"
        venv = cached_virtualenv(folder, requirements)
        flytekit_env = {**env, "HOME": scratch, "FLYTE_SDK_LOGGING_LEVEL": "40"}
        pyflyte = [str(venv / "bin" / "pyflyte"), "run", "mpi_flows.py", "wf", "--n", N]
        best = interleaved(
            {
                "roost": (
                    [roost, "run", "--no-progress", "-o", "json", "mpi_allreduce.py", "wf", "--n", N],
                    ROOT / "examples",
                    env,
                ),
                "flytekit": (pyflyte, FLYTEKIT_PROJECT, flytekit_env),
                "flytekit-sm": (pyflyte, FLYTEKIT_PROJECT, {**flytekit_env, "OMPI_MCA_btl": "self,sm"}),
            }
        )
    print(f"mpi allreduce workflow (3 tasks, n={N}), best of {REPEATS} after a warm-up round, taking turns:")
    print(f"  roost run  (4 ranks under mpirun):                  {best['roost']:6.2f} s")
    print(f"  pyflyte run (kfmpi task as 1 local rank):           {best['flytekit']:6.2f} s")
    print(f"  pyflyte run, one-machine transports (btl self,sm):  {best['flytekit-sm']:6.2f} s")
    print(f"  ratio roost / flytekit: {best['roost'] / best['flytekit']:.2f}")
    print(f"  ratio roost / flytekit with the same transports: {best['roost'] / best['flytekit-sm']:.2f}")


if __name__ == "__main__":
    main()
