"""CreateExecution over a real gRPC socket, with no engine workers (the admin's own cost, not the tasks'): the
latency of one call after another, and the throughput of 16 clients calling at once, each on a channel of its
own, on SQLite and on the PostgreSQL server at 127.0.0.1:5432 (when reachable).

    python admin/bench/bench_create_execution.py

The issue's target is 400 CreateExecutions a second with 16 clients on PostgreSQL; no flyteadmin runs here to
measure beside it, so the figures are absolute (run the script on another checkout for a before/after ratio).
Printed, never asserted.
"""

from __future__ import annotations

import threading
import time

from _bench_flows import one
from _bench_support import (
    admin_stub,
    bench_admin,
    create_request,
    ms,
    on_each_database,
    p50,
    percentile,
    print_table,
    register,
    timed,
)

from roost import LaunchPlan
from roost_admin.app import AdminApp

ONE = "_bench_flows.one"
SEQUENTIAL = 300
CLIENTS = 16
PER_CLIENT = 40


def throughput(app: AdminApp, clients: int, per_client: int) -> float:
    """CreateExecutions a second with ``clients`` threads calling at once, each on a channel of its own."""
    ready = threading.Barrier(clients + 1)
    errors: list[BaseException] = []

    def client() -> None:
        with admin_stub(app) as stub:
            stub.CreateExecution(create_request(ONE))  # connects the channel before the clock starts
            ready.wait()
            try:
                for _ in range(per_client):
                    stub.CreateExecution(create_request(ONE))
            except BaseException as exc:  # reported below: a failed call must not pass as a fast one
                errors.append(exc)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    ready.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise errors[0]
    return clients * per_client / elapsed


def run(label: str, url: str) -> tuple[str, ...]:
    """Measure one database: sequential latency, then concurrent throughput."""
    with bench_admin(url) as (app, stub):
        register(stub, [LaunchPlan.get_or_create(one)])
        timed(stub.CreateExecution, (create_request(ONE) for _ in range(20)))  # warm-up
        seconds = timed(stub.CreateExecution, (create_request(ONE) for _ in range(SEQUENTIAL)))
        rate = throughput(app, CLIENTS, PER_CLIENT)
    return (
        label,
        ms(p50(seconds)),
        ms(percentile(seconds, 0.99)),
        f"{1 / p50(seconds):.0f}/s",
        f"{rate:.0f}/s",
    )


def main() -> None:
    """Both databases, one table."""
    skipped: tuple[str, ...] = ("PostgreSQL: skipped (no server at 127.0.0.1:5432)", "", "", "", "")
    rows = on_each_database(run, skipped)
    print_table(
        "CreateExecution over gRPC, no engine workers",
        ["database", "p50", "p99", "one client", f"{CLIENTS} clients"],
        rows,
        note=f"{SEQUENTIAL} calls one after another; {CLIENTS} clients x {PER_CLIENT} calls at once "
        "(target on PostgreSQL: 400/s)",
    )


if __name__ == "__main__":
    main()
