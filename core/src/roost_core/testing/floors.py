"""The floors benchmarks measure a task process against: forking a warm interpreter, and starting a cold one."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping

_WARM_FORK = """
import gc, importlib, os, statistics, sys, time

entry = importlib.import_module(sys.argv[1])
warm_up = getattr(entry, "__roost_warm_up__", None)
if warm_up is not None:
    warm_up()
gc.collect()
gc.freeze()
times = []
for _ in range(int(sys.argv[2])):
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    times.append(time.perf_counter() - start)
print(statistics.median(times))
"""


def warm_fork_seconds(
    entry: str, python: str = sys.executable, env: Mapping[str, str] | None = None, samples: int = 50
) -> float:
    """Median seconds to fork a warm task interpreter and reap the child: the floor of a warm task process.

    The interpreter is ``python`` (with ``env`` added to this process's environment) having imported the task
    command's ``entry`` module and run its ``__roost_warm_up__()``, as the fork server that starts such tasks does;
    not the benchmark's own process, whose size (an admin, a driver, their clients) would set the floor instead: a
    fork's cost grows with the memory the forked process maps."""
    measure = [python, "-c", _WARM_FORK, entry, str(samples)]
    environment = {**os.environ, **(env or {})}
    return float(subprocess.run(measure, capture_output=True, text=True, check=True, env=environment).stdout)


def cold_start_seconds(python: str = sys.executable, samples: int = 10) -> float:
    """Median seconds of ``python -c pass`` in a fresh interpreter: the floor of a cold task process."""
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        subprocess.run([python, "-c", "pass"], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)
