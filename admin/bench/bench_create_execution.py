"""CreateExecution over a real gRPC socket, with no engine workers (the admin's own cost, not the tasks'): the
latency of one call after another, and the throughput of 16 clients calling at once, each on a channel of its
own, on SQLite and on the PostgreSQL server at 127.0.0.1:5432 (when reachable).

The 16 clients run twice: as threads of the admin's own process, and as 16 processes of their own
(:mod:`_bench_clients`). The threads share the admin's interpreter lock, which real clients (flytekit in
processes of their own) never do; the processes show what such clients see.

    python admin/bench/bench_create_execution.py

The issue's target is 400 CreateExecutions a second with 16 clients on PostgreSQL; no flyteadmin runs here to
measure beside it, so the figures are absolute (run the script on another checkout for a before/after ratio).
Printed, never asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

from _bench_flows import one
from _bench_support import (
    HERE,
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
from roost_admin.app import AdminApp, grpc_options

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


def process_throughput(app: AdminApp, clients: int, per_client: int) -> float:
    """CreateExecutions a second with ``clients`` processes calling at once, each on a channel of its own: from
    the moment all are told to start to the moment the last one made its last call."""
    options = json.dumps(grpc_options(app.settings))
    command = [
        sys.executable,
        str(HERE / "_bench_clients.py"),
        str(app.grpc_port),
        str(per_client),
        options,
        ONE,
    ]
    processes = [
        subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(clients)
    ]
    try:
        for process in processes:  # each has connected and made its first call
            assert process.stdout is not None
            if process.stdout.readline().strip() != "ready":
                raise RuntimeError(f"a client process failed to start (exit status {process.wait()})")
        began = time.monotonic()
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        reports = []
        for process in processes:
            out, _ = process.communicate(timeout=600)
            reports.append(json.loads(out))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    errors = [error for report in reports for error in report["errors"]]
    if errors:
        raise RuntimeError(f"{len(errors)} of {clients * per_client} calls failed, the first: {errors[0]}")
    return sum(report["done"] for report in reports) / (max(report["ended"] for report in reports) - began)


def run(label: str, url: str) -> tuple[str, ...]:
    """Measure one database: sequential latency, then concurrent throughput."""
    with bench_admin(url) as (app, stub):
        register(stub, [LaunchPlan.get_or_create(one)])
        timed(stub.CreateExecution, (create_request(ONE) for _ in range(20)))  # warm-up
        seconds = timed(stub.CreateExecution, (create_request(ONE) for _ in range(SEQUENTIAL)))
        rate = throughput(app, CLIENTS, PER_CLIENT)
        process_rate = process_throughput(app, CLIENTS, PER_CLIENT)
    return (
        label,
        ms(p50(seconds)),
        ms(percentile(seconds, 0.99)),
        f"{1 / p50(seconds):.0f}/s",
        f"{rate:.0f}/s",
        f"{process_rate:.0f}/s",
    )


def main() -> None:
    """Both databases, one table."""
    skipped: tuple[str, ...] = ("PostgreSQL: skipped (no server at 127.0.0.1:5432)", "", "", "", "", "")
    rows = on_each_database(run, skipped)
    print_table(
        "CreateExecution over gRPC, no engine workers",
        ["database", "p50", "p99", "one client", f"{CLIENTS} client threads", f"{CLIENTS} client processes"],
        rows,
        note=f"{SEQUENTIAL} calls one after another; {CLIENTS} clients x {PER_CLIENT} calls at once "
        "(target on PostgreSQL: 400/s), as threads of the admin's process and as processes of their own",
    )


if __name__ == "__main__":
    main()
