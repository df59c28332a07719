"""Benchmarks of roost-presto against its Trino test server (run as a process); prints numbers, asserts nothing.

nox -s bench -- presto

1. Overhead per query: one query on the real engine (``OneTaskEngine``: rounds, saved state, events, the
   result paged into parquet) against the same query run by the plain trino client (``cursor.execute`` and
   ``fetchall``), and against the server's own time for it.
2. Concurrency: 200 queries in flight through one handler; the threads of this process at the peak.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

import trino
from helpers import engine, handler, inputs, trips_task

from roost_core.engine.state import WorkflowPhase
from roost_core.testing.driver import Driver
from roost_core.testing.tasks import task_context

QUERIES = 20
CONCURRENT = 200
SETUP = """
CREATE TABLE memory.default.trips AS
SELECT i AS id, CASE i % 3 WHEN 0 THEN 'ams' WHEN 1 THEN 'ber' ELSE 'cdg' END AS city, i * 0.5 AS fare
FROM range(0, 3000) AS t(i)
"""


class Coordinator:
    """`python -m roost_presto.testing` in a process of its own, so its threads are not counted here."""

    def __init__(self, folder: Path, *, run_seconds: float, workers: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        setup = folder / "setup.sql"
        setup.write_text(SETUP)
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "roost_presto.testing", "--setup", str(setup), "--page-rows", "500",
                "--queued-seconds", "0", "--run-seconds", str(run_seconds), "--workers", str(workers),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        host, port = self.url.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


class Server:
    """What the test helpers need of a server: its URL."""

    def __init__(self, url: str) -> None:
        self.url = url


def direct(coordinator: Coordinator) -> tuple[float, float]:
    """The plain trino client's time for the query, and the server's own elapsed time for it."""
    cursor = trino.dbapi.connect(
        host=coordinator.host, port=coordinator.port, user="bench", catalog="memory", schema="default"
    ).cursor()
    start = time.perf_counter()
    cursor.execute("SELECT id, city, fare FROM trips WHERE city = ? ORDER BY id LIMIT ?", ["ams", 1000])
    rows = cursor.fetchall()
    elapsed = time.perf_counter() - start
    assert len(rows) == 1000
    return elapsed, cursor.stats["elapsedTimeMillis"] / 1000


def through_roost(coordinator: Coordinator, folder: Path, resync: float) -> float:
    run = engine(trips_task(), folder, Server(coordinator.url), resync_interval=resync)  # type: ignore[arg-type]
    try:
        start = time.perf_counter()
        run.start(inputs("ams", 1000))
        state = run.run_to_end().state
        elapsed = time.perf_counter() - start
        assert state.phase is WorkflowPhase.SUCCEEDED, state.error
    finally:
        run.close()
    return elapsed


def overhead(folder: Path) -> None:
    coordinator = Coordinator(folder, run_seconds=0.0, workers=8)
    try:
        direct(coordinator)  # warm up the server and the client
        plain = [direct(coordinator) for _ in range(QUERIES)]
        client = statistics.median(p[0] for p in plain)
        server = statistics.median(p[1] for p in plain)
        print(f"one query, 1000 of 3000 rows in 2 pages, median of {QUERIES}:")
        print(
            f"  trino client alone (execute + fetchall): {client * 1000:8.1f} ms  (server's own time {server * 1000:.1f} ms)"
        )
        for resync in (1.0, 0.1):
            times = [through_roost(coordinator, folder / f"r{resync}-{i}", resync) for i in range(QUERIES)]
            roost = statistics.median(times)
            print(
                f"  roost engine, resync_interval={resync:<4}:       {roost * 1000:8.1f} ms  "
                f"overhead {(roost - client) * 1000:7.1f} ms per query, {roost / client:5.1f}x the client alone"
            )
    finally:
        coordinator.stop()


def concurrency(folder: Path, long_poll: float) -> None:
    coordinator = Coordinator(folder, run_seconds=2.0, workers=CONCURRENT)
    server: Any = Server(coordinator.url)
    presto: Any = handler(server, workers=10, resync_interval=0.5, long_poll=long_poll)
    baseline = threading.active_count()
    peak = baseline
    try:
        drivers = [
            Driver(
                presto,
                task_context(folder / f"c{i}", trips_task(), inputs=inputs("ams", 10), execution=f"e{i}"),
            )
            for i in range(CONCURRENT)
        ]
        start = time.perf_counter()
        pending = {id(d): d for d in drivers}
        while pending:
            for key, driver in list(pending.items()):
                if driver.transitions and not driver.woken.is_set():
                    continue
                driver.woken.clear()
                if driver.round().phase.is_terminal:
                    assert driver.transitions[-1].phase.name == "SUCCESS", driver.transitions[-1].error
                    del pending[key]
            peak = max(peak, threading.active_count())
            time.sleep(0.02)
        elapsed = time.perf_counter() - start
    finally:
        presto.close()
        coordinator.stop()
    print(
        f"{CONCURRENT} concurrent queries (2 s each on the server), one handler with 10 status workers, "
        f"long_poll={long_poll}:"
    )
    print(f"  all done in {elapsed:.1f} s; threads in this process: {baseline} before, {peak} at the peak")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-presto-") as tmp:
        overhead(Path(tmp) / "overhead")
        for long_poll in (1.0, 0.1):
            concurrency(Path(tmp) / f"concurrency-{long_poll}", long_poll)


if __name__ == "__main__":
    main()
