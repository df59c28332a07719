"""CreateExecution latency over a real gRPC socket, with no engine workers (the cost of the RPC alone: checks,
the database transaction, the spec, inputs and first state written), and a list of executions filtered by
launch plan among many, on SQLite and on the PostgreSQL server at 127.0.0.1:5432 (when reachable).

    python admin/bench/bench_create_execution.py

Printed, never asserted.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from _bench_flows import one
from _bench_support import (
    DOMAIN,
    PROJECT,
    admin_stub,
    create_request,
    ms,
    p50,
    percentile,
    postgres_database,
    print_table,
    register,
    running_admin,
    timed,
)
from flyteidl.admin import common_pb2

from roost import LaunchPlan

CREATES = 300
LISTS = 100
ONE = "_bench_flows.one"


def measure(db_url: str) -> list[tuple[str, str, str]]:
    """CreateExecution one after another, then ListExecutions of the launch plan's newest ten."""
    with (
        tempfile.TemporaryDirectory() as folder,
        running_admin(Path(folder), db_url) as app,
        admin_stub(app) as stub,
    ):
        register(stub, [LaunchPlan.get_or_create(one)])
        stub.CreateExecution(create_request(ONE))
        creates = timed(stub.CreateExecution, [create_request(ONE, x) for x in range(CREATES)])
        listing = common_pb2.ResourceListRequest(
            id=common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN),
            limit=10,
            filters=f"eq(launch_plan.name,{ONE})",
            sort_by=common_pb2.Sort(key="created_at", direction=common_pb2.Sort.DESCENDING),
        )
        lists = timed(stub.ListExecutions, [listing] * LISTS)
    return [
        ("  CreateExecution p50", ms(p50(creates)), ""),
        ("  CreateExecution p95", ms(percentile(creates, 0.95)), ""),
        ("  CreateExecution per second, one client", f"{len(creates) / sum(creates):.0f}", ""),
        ("  ListExecutions by launch plan, newest 10, p50", ms(p50(lists)), ""),
    ]


def main() -> None:
    """Measure on both databases and print them."""
    rows: list[tuple[str, str, str]] = [("SQLite (embedded default)", "", ""), *measure("")]
    with postgres_database() as url:
        rows.append(("PostgreSQL", "", ""))
        rows.extend(measure(url) if url else [("  skipped: no server at 127.0.0.1:5432", "", "")])
    print_table(
        "CreateExecution and a launch plan's executions, over gRPC, no engine workers",
        ["measurement", "value", "note"],
        rows,
        note=f"{CREATES} CreateExecution calls one after another; {LISTS} lists after them.",
    )


if __name__ == "__main__":
    main()
