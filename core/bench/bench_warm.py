"""What an attempt of the local-process handler costs, started warm (forked from a fork server) and cold.

    python core/bench/bench_warm.py [ATTEMPTS]

The task is a console script whose module imports flyteidl and writes its outputs, run through the handler
from the first ``handle`` to SUCCESS, one attempt after the other. Each figure is printed next to its floors:
forking an interpreter that already imported everything, and a cold ``python -c pass``. Nothing is asserted.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import roost_core.builtin
from roost_core.handler import TaskPhase
from roost_core.handlers.local_process import LocalProcessHandler
from roost_core.testing.driver import Driver
from roost_core.testing.floors import cold_start_seconds, warm_fork_seconds
from roost_core.testing.harness import build_handler
from roost_core.testing.tasks import container_task, task_context

TASK_MODULE = """
import sys
from pathlib import Path

from flyteidl.core import literals_pb2


def main() -> int:
    prefix = sys.argv[1].removeprefix("file://")
    Path(prefix).mkdir(parents=True, exist_ok=True)
    Path(prefix, "outputs.pb").write_bytes(literals_pb2.LiteralMap().SerializeToString())
    return 0
"""

SCRIPT = """#!{python}
import sys
from bench_task import main
if __name__ == '__main__':
    sys.exit(main())
"""


def _median_ms(run: Callable[[], object], count: int) -> float:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def _attempts(
    handler: LocalProcessHandler, root: Path, script: Path, count: int, label: str, **env: str
) -> float:
    """The median milliseconds of one attempt, after one attempt not counted (it starts a warm server)."""
    task = container_task(
        [str(script)], ["{{.outputPrefix}}"], env={"PYTHONPATH": str(script.parent.parent), **env}
    )
    index = 0

    def attempt() -> None:
        nonlocal index
        index += 1
        ctx = task_context(root / f"{label}{index}", task)
        done = Driver(handler, ctx).until_done()
        assert done.phase is TaskPhase.SUCCESS, done.error
        handler.finalize(ctx)

    attempt()
    return _median_ms(attempt, count)


def main() -> None:
    """Print per-attempt costs warm and cold with their floors."""
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "bench_task.py").write_text(TASK_MODULE)
        script = root / "bin" / "bench-task"
        script.parent.mkdir()
        script.write_text(SCRIPT.format(python=sys.executable))
        script.chmod(0o755)
        handler = build_handler(
            [roost_core.builtin], "local-process", section={"work_dir": str(root / "work")}
        )
        assert isinstance(handler, LocalProcessHandler)
        try:
            warm = _attempts(handler, root, script, count, "warm")
            cold = _attempts(handler, root, script, count, "cold", ROOST_WARM_PROCESS="0")
        finally:
            handler.close()
        # The fork server of these attempts imported the task's module.
        fork = warm_fork_seconds("bench_task", env={"PYTHONPATH": folder}) * 1000
    python = cold_start_seconds() * 1000
    print(f"local-process attempt, median of {count} (handle to SUCCESS; the task imports flyteidl):")
    print(f"  warm {warm:8.1f} ms = {warm / fork:6.0f} x a warm fork, {warm / python:5.2f} x python -c pass")
    print(f"  cold {cold:8.1f} ms = {cold / fork:6.0f} x a warm fork, {cold / python:5.2f} x python -c pass")
    print(
        f"  floors: warm fork {fork:.2f} ms, python -c pass {python:.1f} ms; cold / warm = {cold / warm:.1f}"
    )


if __name__ == "__main__":
    main()
