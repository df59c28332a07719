"""Executions end to end, over a real gRPC socket, with engine workers running python tasks as local processes:

- the time from CreateExecution to SUCCEEDED (as GetExecution reports it) of a one-task workflow and of a
  ten-task chain on the embedded default (SQLite, local folder, two workers), run one after another, the
  chain's cost per task next to its floors: forking a warm interpreter, and starting a cold ``python -c pass``;
- executions per minute of a ten-task chain with two workers on the PostgreSQL server at 127.0.0.1:5432
  (when reachable), many executions launched at once.

    python admin/bench/bench_executions.py

Printed, never asserted. Each task is a ``roost-execute`` process, forked from a warm interpreter (warm processes
are on by default).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from _bench_flows import one, ten
from _bench_support import (
    admin_stub,
    create_request,
    launch,
    p50,
    percentile,
    postgres_database,
    print_table,
    register,
    running_admin,
)
from flyteidl.admin import execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2
from flyteidl.service import admin_pb2_grpc

from roost import LaunchPlan
from roost_core.testing.floors import cold_start_seconds, warm_fork_seconds

LATENCY_RUNS = 20
CHAIN_RUNS = 10
THROUGHPUT_EXECUTIONS = 20
WORKERS = 2
TERMINAL = {
    core_execution_pb2.WorkflowExecution.SUCCEEDED,
    core_execution_pb2.WorkflowExecution.FAILED,
    core_execution_pb2.WorkflowExecution.ABORTED,
}
ONE = "_bench_flows.one"
TEN = "_bench_flows.ten"


def phase(stub: admin_pb2_grpc.AdminServiceStub, ident: identifier_pb2.WorkflowExecutionIdentifier) -> int:
    """The execution's phase, as GetExecution reports it."""
    return int(stub.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=ident)).closure.phase)


def wait(
    stub: admin_pb2_grpc.AdminServiceStub,
    ident: identifier_pb2.WorkflowExecutionIdentifier,
    poll: float = 0.005,
) -> None:
    """Poll every ``poll`` seconds until the execution ends; stop the benchmark if it did not succeed."""
    while (current := phase(stub, ident)) not in TERMINAL:
        time.sleep(poll)
    if current != core_execution_pb2.WorkflowExecution.SUCCEEDED:
        closure = stub.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=ident)).closure
        raise SystemExit(
            f"execution {ident.name} ended {core_execution_pb2.WorkflowExecution.Phase.Name(current)}: "
            f"{closure.error.message}"
        )


def recorded_seconds(stub: admin_pb2_grpc.AdminServiceStub, launch_plan: str, x: int) -> float:
    """Seconds from the creation to the end of an execution of ``launch_plan`` with input ``x``, as the admin
    recorded them: waited for with a slow poll, so that the poll's own GetExecutions do not slow it."""
    ident = stub.CreateExecution(create_request(launch_plan, x)).id
    wait(stub, ident, poll=0.1)
    closure = stub.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=ident)).closure
    ended = closure.started_at.ToNanoseconds() + closure.duration.ToNanoseconds()
    return (ended - closure.created_at.ToNanoseconds()) / 1e9


def latencies(stub: admin_pb2_grpc.AdminServiceStub, launch_plan: str, runs: int) -> list[float]:
    """Seconds from CreateExecution to SUCCEEDED of ``runs`` executions, one after another, after a warm-up."""
    wait(stub, launch(stub, launch_plan))  # warm up: imports, handler threads
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        wait(stub, launch(stub, launch_plan))
        times.append(time.perf_counter() - start)
    return times


def latency() -> list[tuple[str, str, str]]:
    """CreateExecution -> SUCCEEDED of a one-task workflow and a ten-task chain on SQLite, one at a time,
    with the chain's cost per task next to its floors."""
    with (
        tempfile.TemporaryDirectory() as folder,
        running_admin(Path(folder), workers=WORKERS) as app,
        admin_stub(app) as stub,
    ):
        register(stub, [LaunchPlan.get_or_create(one), LaunchPlan.get_or_create(ten)])
        single = latencies(stub, ONE, LATENCY_RUNS)
        chain = latencies(stub, TEN, CHAIN_RUNS)
    fork, cold = warm_fork_seconds("roost.execute"), cold_start_seconds()
    per_task = p50(chain) / 10
    what = "CreateExecution -> SUCCEEDED, SQLite"
    return [
        (f"{what}, one python task: p50", f"{p50(single):.3f} s", "< 0.5 s"),
        ("  p90", f"{percentile(single, 0.9):.3f} s", ""),
        ("  min / max", f"{min(single):.3f} s / {max(single):.3f} s", ""),
        (f"{what}, ten-task chain: p50", f"{p50(chain):.3f} s", "< 0.3 s"),
        ("  per task", f"{per_task * 1000:.1f} ms", ""),
        ("  floor: fork of a warm interpreter", f"{fork * 1000:.2f} ms", ""),
        ("  per task / warm fork", f"{per_task / fork:.0f}x", "near 1x"),
        ("  floor: cold `python -c pass`", f"{cold * 1000:.1f} ms", ""),
        ("  per task / cold start", f"{per_task / cold:.1f}x", ""),
    ]


def throughput() -> list[tuple[str, str, str]]:
    """Executions per minute of ten-task chains on PostgreSQL, all launched at once."""
    what = "ten-task chains, PostgreSQL: executions/minute"
    with postgres_database() as url:
        if url is None:
            return [(what, "skipped: no server at 127.0.0.1:5432", "")]
        with (
            tempfile.TemporaryDirectory() as folder,
            running_admin(Path(folder), url, workers=WORKERS) as app,
            admin_stub(app) as stub,
        ):
            register(stub, [LaunchPlan.get_or_create(ten)])
            idents = [launch(stub, TEN) for _ in range(THROUGHPUT_EXECUTIONS)]
            for ident in idents:
                wait(
                    stub, ident, poll=0.1
                )  # slowly: a poll's GetExecution takes the engine's interpreter lock
            closures = [
                stub.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=ident)).closure
                for ident in idents
            ]
    # From the first creation to the last end, as the admin recorded them.
    ends = [c.started_at.ToNanoseconds() + c.duration.ToNanoseconds() for c in closures]
    elapsed = (max(ends) - min(c.created_at.ToNanoseconds() for c in closures)) / 1e9
    return [
        (what, f"{THROUGHPUT_EXECUTIONS / elapsed * 60:.0f}", ""),
        (f"  {THROUGHPUT_EXECUTIONS} launched at once, all ended after", f"{elapsed:.1f} s", ""),
    ]


def main() -> None:
    """Measure both and print them."""
    print_table(
        f"Executions end to end, {WORKERS} engine workers in the admin's process",
        ["measurement", "value", "target"],
        [*latency(), *throughput()],
        note=(
            f"Latency: {LATENCY_RUNS} executions one after another, polled with GetExecution every 5 ms. "
            "Each task is a roost-execute process forked from a warm interpreter."
        ),
    )


if __name__ == "__main__":
    main()
