"""CreateExecution over a real gRPC socket, with no engine workers (the admin's own cost, not the tasks'): the
latency of one call after another, and the throughput of 16 clients calling at once, each on a channel of its
own, on SQLite and on the PostgreSQL server at 127.0.0.1:5432 (when reachable).

The 16 clients run twice: as threads of the admin's own process, and as 16 processes of their own
(:mod:`_bench_clients`). The threads share the admin's interpreter lock, which real clients (flytekit in
processes of their own) never do; the processes show what such clients see. A second table splits the CPU of
the processes' run per call between the admin, the clients and the PostgreSQL server, and divides the machine's
cores by their sum: the highest rate this machine could carry at those costs, whatever the admin's concurrency.

    python admin/bench/bench_create_execution.py

The issue's target is 400 CreateExecutions a second with 16 clients on PostgreSQL; no flyteadmin runs here to
measure beside it, so the figures are absolute (run the script on another checkout for a before/after ratio).
Printed, never asserted.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

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


@dataclass(frozen=True)
class ProcessRun:
    """What :func:`process_throughput` measured: the rate, and the CPU seconds each party spent per call."""

    rate: float
    admin_cpu: float
    client_cpu: float
    database_cpu: float | None
    """None on SQLite, whose work is the admin's own."""

    def ceiling(self) -> float:
        """Calls a second this machine's cores could carry at these CPU costs, were nothing else waiting."""
        per_call = self.admin_cpu + self.client_cpu + (self.database_cpu or 0.0)
        return (os.cpu_count() or 1) / per_call


def postgres_cpu_seconds() -> float:
    """CPU seconds every PostgreSQL server process on this machine has used (``/proc``, user and system)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            text = stat.read_text()
            if text[text.index("(") + 1 : text.rindex(")")].startswith("postgres"):
                fields = text.rpartition(")")[2].split()
                ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def process_throughput(app: AdminApp, clients: int, per_client: int, database: bool) -> ProcessRun:
    """CreateExecutions a second with ``clients`` processes calling at once, each on a channel of its own: from
    the moment all are told to start to the moment the last one made its last call; with the CPU the admin (this
    process), the clients and, when ``database``, the PostgreSQL server spent per call meanwhile."""
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
        began, admin_cpu = time.monotonic(), time.process_time()
        database_cpu = postgres_cpu_seconds() if database else 0.0
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        reports = []
        for process in processes:
            out, _ = process.communicate(timeout=600)
            reports.append(json.loads(out))
        admin_cpu = time.process_time() - admin_cpu
        database_cpu = postgres_cpu_seconds() - database_cpu if database else 0.0
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    errors = [error for report in reports for error in report["errors"]]
    if errors:
        raise RuntimeError(f"{len(errors)} of {clients * per_client} calls failed, the first: {errors[0]}")
    calls = sum(report["done"] for report in reports)
    return ProcessRun(
        rate=calls / (max(report["ended"] for report in reports) - began),
        admin_cpu=admin_cpu / calls,
        client_cpu=sum(report["cpu"] for report in reports) / calls,
        database_cpu=database_cpu / calls if database else None,
    )


Rows = tuple[tuple[str, ...], tuple[str, ...]]
"""One database's row of each table: rates, and CPU per call."""


def run(label: str, url: str) -> Rows:
    """Measure one database: sequential latency, then concurrent throughput."""
    with bench_admin(url) as (app, stub):
        register(stub, [LaunchPlan.get_or_create(one)])
        timed(stub.CreateExecution, (create_request(ONE) for _ in range(20)))  # warm-up
        seconds = timed(stub.CreateExecution, (create_request(ONE) for _ in range(SEQUENTIAL)))
        rate = throughput(app, CLIENTS, PER_CLIENT)
        processes = process_throughput(app, CLIENTS, PER_CLIENT, database=url.startswith("postgresql"))
    database = "(the admin's)" if processes.database_cpu is None else ms(processes.database_cpu)
    return (
        (
            label,
            ms(p50(seconds)),
            ms(percentile(seconds, 0.99)),
            f"{1 / p50(seconds):.0f}/s",
            f"{rate:.0f}/s",
            f"{processes.rate:.0f}/s",
        ),
        (
            label,
            ms(processes.admin_cpu),
            ms(processes.client_cpu),
            database,
            f"{processes.ceiling():.0f}/s",
        ),
    )


def main() -> None:
    """Both databases: the rates, then where the CPU of the client processes' run went."""
    skipped = "PostgreSQL: skipped (no server at 127.0.0.1:5432)"
    rows = on_each_database(run, ((skipped, "", "", "", "", ""), (skipped, "", "", "", "")))
    print_table(
        "CreateExecution over gRPC, no engine workers",
        ["database", "p50", "p99", "one client", f"{CLIENTS} client threads", f"{CLIENTS} client processes"],
        [rates for rates, _ in rows],
        note=f"{SEQUENTIAL} calls one after another; {CLIENTS} clients x {PER_CLIENT} calls at once "
        "(target on PostgreSQL: 400/s), as threads of the admin's process and as processes of their own",
    )
    print_table(
        f"CPU per call, {CLIENTS} client processes",
        ["database", "admin", "clients", "database server", f"ceiling on {os.cpu_count()} cores"],
        [cpu for _, cpu in rows],
        note="The ceiling is the cores divided by the CPU all three spent per call: the rate this machine could "
        "carry with every core busy and nothing waiting.",
    )


if __name__ == "__main__":
    main()
