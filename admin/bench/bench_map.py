"""A map over 1,000 trivial items on `roost start` (embedded default: SQLite, local folder, two workers), next to
the same map run locally, and to the floors of one index: forking a warm interpreter, and a cold
``python -c pass``.

    python admin/bench/bench_map.py

Printed, never asserted. Each index is a task attempt of the local-process handler (a warm process by default).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from _bench_maps import squares
from _bench_support import (
    admin_stub,
    create_request,
    print_table,
    register,
    running_admin,
)
from bench_executions import recorded_seconds, wait

from roost import LaunchPlan
from roost_core.testing.floors import cold_start_seconds, warm_fork_seconds

ITEMS = 1000
WORKERS = 2
PLAN = "_bench_maps.squares"


def on_roost_start() -> float:
    """Seconds from CreateExecution to SUCCEEDED of the map over :data:`ITEMS` items (after a warm-up of 10), as the
    admin recorded them."""
    with (
        tempfile.TemporaryDirectory() as folder,
        running_admin(Path(folder), workers=WORKERS) as app,
        admin_stub(app) as stub,
    ):
        register(stub, [LaunchPlan.get_or_create(squares)])
        wait(stub, stub.CreateExecution(create_request(PLAN, 10)).id)  # warm up: pools, imports
        return recorded_seconds(stub, PLAN, ITEMS)


def locally() -> float:
    """Seconds of the same workflow called in this process (best of 3)."""
    squares(x=10)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        squares(x=ITEMS)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    """Measure and print."""
    served, local = on_roost_start(), locally()
    fork, cold = warm_fork_seconds("roost.execute"), cold_start_seconds()
    per_index = served / ITEMS
    print_table(
        f"A map over {ITEMS:,} trivial items, {WORKERS} engine workers in the admin's process",
        ["measurement", "value", "target"],
        [
            ("roost start: CreateExecution -> SUCCEEDED", f"{served:.2f} s", "< 5 s"),
            ("  per index", f"{per_index * 1000:.2f} ms", ""),
            ("  per index / warm fork", f"{per_index / fork:.1f}x", ""),
            ("  per index / cold `python -c pass`", f"{per_index / cold:.2f}x", ""),
            ("local run (same workflow)", f"{local:.3f} s", ""),
            ("roost start / local run", f"{served / local:.0f}x", ""),
        ],
        note=f"Floors: warm fork {fork * 1000:.2f} ms, cold start {cold * 1000:.1f} ms.",
    )


if __name__ == "__main__":
    main()
