"""The admin's execution API under load, over real gRPC sockets:

- CreateExecution throughput with 16 concurrent clients (each on its own channel and connection, in threads),
  on the embedded default (SQLite) and on the PostgreSQL server at 127.0.0.1:5432. No engine workers run
  (``workers=0``), so only the admin's write path is measured;
- p50 and p99 latency of GetExecution and ListExecutions (a page of 100: default sort, a phase filter, a launch
  plan filter, a deep page) with 100,000 executions in PostgreSQL, bulk-inserted through the admin's models.

    python admin/bench/bench_api.py

Printed, never asserted. The clients run in the admin's process, so they share its interpreter (and GIL).
"""

from __future__ import annotations

import datetime
import random
import string
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import sqlalchemy
from _bench_flows import one, ten
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
from flyteidl.admin import common_pb2, execution_pb2, version_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2
from flyteidl.service import admin_pb2_grpc

from roost import LaunchPlan
from roost_admin import blobs
from roost_admin.app import AdminApp
from roost_admin.db import models

CLIENTS = 16
CREATE_SECONDS = 5.0
"""How long the 16 clients keep creating executions, per database."""
EXECUTIONS = 100_000
LAUNCH_PLANS = 20
GET_CALLS = 300
LIST_CALLS = 50
PAGE = 100
INSERT_BATCH = 10_000
RARE_EXECUTIONS = 50
SEED = 4
ONE = "_bench_flows.one"
Phase = core_execution_pb2.WorkflowExecution
FINISHED_PHASES = [Phase.SUCCEEDED, Phase.FAILED, Phase.ABORTED, Phase.TIMED_OUT]
FINISHED_WEIGHTS = [88, 8, 3, 1]
UNFINISHED = 300
"""The newest executions are still queued or running; older ones have ended."""


# 1. CreateExecution throughput


def create_throughput(label: str, db_url: str) -> tuple[str, ...]:
    """Requests per second of CreateExecution from CLIENTS concurrent clients (``db_url`` empty: SQLite in the
    admin's data folder); a table row."""
    with tempfile.TemporaryDirectory() as folder, running_admin(Path(folder), db_url) as app:
        with admin_stub(app) as stub:
            register(stub, [LaunchPlan.get_or_create(one)])
            for _ in range(CLIENTS):  # warm up: the launch plan's blobs are cached, connections pooled
                stub.CreateExecution(create_request(ONE))
        # Each client keeps its own results (no shared state between the threads while they run).
        latencies: list[list[float]] = [[] for _ in range(CLIENTS)]
        failures: list[list[str]] = [[] for _ in range(CLIENTS)]
        ends = [0.0] * CLIENTS
        start = threading.Barrier(CLIENTS + 1)

        def client(index: int) -> None:
            request = create_request(ONE, x=index)
            with admin_stub(app) as own:
                own.GetVersion(version_pb2.GetVersionRequest())  # connected before the clock starts
                start.wait()
                deadline = time.perf_counter() + CREATE_SECONDS
                while (began := time.perf_counter()) < deadline:
                    try:
                        own.CreateExecution(request)
                    except grpc.RpcError as exc:
                        failures[index].append(f"{exc.code().name}: {exc.details()[:80]}")
                    else:
                        latencies[index].append(time.perf_counter() - began)
                ends[index] = time.perf_counter()

        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        start.wait()
        began = time.perf_counter()
        for thread in threads:
            thread.join()
        elapsed = max(ends) - began
    seconds = [s for per_client in latencies for s in per_client]
    errors = Counter(what for per_client in failures for what in per_client)
    failed = ", ".join(f"{n}x {what}" for what, n in errors.most_common(3)) or "0"
    return (
        label,
        f"{len(seconds) / elapsed:.0f}",
        str(len(seconds)),
        ms(p50(seconds)),
        ms(percentile(seconds, 0.99)),
        failed,
    )


# 2. Get and List with 100,000 executions


@dataclass
class Seeded:
    """What :func:`seed` made, for the calls to measure."""

    shared: list[str] = field(default_factory=list)
    """Names of executions whose spec blob is their launch plan's (cached by the admin after the first read)."""
    own: list[str] = field(default_factory=list)
    """Names of executions with a spec blob of their own (a Get reads it from the blob store)."""
    busy_plan: str = ""
    """A launch plan with about 5% of the executions."""
    rare_plan: str = ""
    """A launch plan with RARE_EXECUTIONS executions."""
    seconds: float = 0.0


def _name(rng: random.Random) -> str:
    """An execution name as the admin generates them (a letter, then 19 letters or digits)."""
    return rng.choice(string.ascii_lowercase) + "".join(
        rng.choices(string.ascii_lowercase + string.digits, k=19)
    )


def _spec(plan: str) -> execution_pb2.ExecutionSpec:
    """The spec CreateExecution stores for an execution of ``plan``."""
    return execution_pb2.ExecutionSpec(
        launch_plan=identifier_pb2.Identifier(
            resource_type=identifier_pb2.LAUNCH_PLAN, project=PROJECT, domain=DOMAIN, name=plan, version="v1"
        ),
        metadata=execution_pb2.ExecutionMetadata(
            mode=execution_pb2.ExecutionMetadata.MANUAL, principal="user0@example.com"
        ),
    )


def _row(
    rng: random.Random, app: AdminApp, name: str, created: datetime.datetime, phase: int
) -> dict[str, Any]:
    """The columns CreateExecution and the engine's events leave in an execution's row (no launch plan yet)."""
    storage = app.storage
    data = blobs.execution_data_prefix(app.settings.storage_prefix, PROJECT, DOMAIN, name)
    started = created + datetime.timedelta(seconds=rng.uniform(0.05, 2.0))
    duration = 0.0 if phase == Phase.QUEUED else min(rng.lognormvariate(3.0, 1.2), 6 * 3600.0)
    failed = phase == Phase.FAILED
    return {
        "project": PROJECT,
        "domain": DOMAIN,
        "name": name,
        "phase": phase,
        "state": execution_pb2.EXECUTION_ARCHIVED if rng.random() < 0.01 else execution_pb2.EXECUTION_ACTIVE,
        "mode": execution_pb2.ExecutionMetadata.MANUAL,
        "principal": f"user{rng.randrange(12)}@example.com",
        "inputs_uri": storage.join(data, "inputs.pb"),
        "user_inputs_uri": storage.join(data, "user_inputs.pb"),
        "outputs_uri": storage.join(data, "end", "outputs.pb") if phase == Phase.SUCCEEDED else "",
        "error_code": "USER:ValueError" if failed else "",
        "error_kind": core_execution_pb2.ExecutionError.USER if failed else 0,
        "error_message": (
            'Traceback (most recent call last):\n  File "flows.py", line 12, in train\n'
            f"ValueError: column 'label' has {rng.randint(1, 999)} nulls"
            if failed
            else ""
        ),
        "abort_cause": "terminated by user" if phase == Phase.ABORTED else "",
        "created_at": created,
        "started_at": None if phase == Phase.QUEUED else started,
        "updated_at": started + datetime.timedelta(seconds=duration),
        "duration": duration,
        "wake_at": created if phase in (Phase.QUEUED, Phase.RUNNING) else None,
    }


def seed(app: AdminApp, stub: admin_pb2_grpc.AdminServiceStub) -> Seeded:
    """Register LAUNCH_PLANS launch plans (and a rare one) and bulk-insert EXECUTIONS executions of them,
    created over 30 days, through the admin's Execution model, then ANALYZE.

    Rows hold what the admin writes (phases, times, errors, blob URIs). GetExecution and ListExecutions read
    one blob per row, the spec: most rows share their launch plan's spec blob, and GET_CALLS rows have one of
    their own, so that Gets of them read it from the blob store (the admin caches specs by URI).
    """
    plans = [
        LaunchPlan.get_or_create(one if i % 2 else ten, name=f"bench.lp{i:02d}") for i in range(LAUNCH_PLANS)
    ]
    rare = LaunchPlan.get_or_create(one, name="bench.rare")
    register(stub, [*plans, rare])
    started = time.perf_counter()
    rng = random.Random(SEED)
    storage, prefix = app.storage, app.settings.storage_prefix
    with app.db.session() as session:
        found = session.execute(
            sqlalchemy.select(models.LaunchPlan.name, models.LaunchPlan.id, models.LaunchPlan.workflow_id)
        ).all()
    ids = {plan: (plan_id, workflow_id) for plan, plan_id, workflow_id in found}
    spec_uris = {}
    for plan in ids:
        spec_uris[plan] = storage.join(prefix, "bench", "specs", f"{plan}.pb")
        storage.write_proto(spec_uris[plan], _spec(plan))

    now = datetime.datetime.now(datetime.UTC)
    ages = sorted((rng.uniform(0, 30 * 24 * 3600.0) for _ in range(EXECUTIONS)), reverse=True)
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < EXECUTIONS:  # a list, not the set: its order (and so the whole seed) is reproducible
        if (name := _name(rng)) not in seen:
            seen.add(name)
            names.append(name)
    plan_names = [plan.name for plan in plans]
    plan_weights = [1 / (i + 1) for i in range(LAUNCH_PLANS)]  # a few busy launch plans, many quiet ones
    rows = []
    for index, (name, age) in enumerate(zip(names, ages, strict=True)):  # oldest first, as ids grow
        if index >= EXECUTIONS - UNFINISHED:
            phase = rng.choice([Phase.QUEUED, Phase.RUNNING])
        else:
            phase = rng.choices(FINISHED_PHASES, FINISHED_WEIGHTS)[0]
        row = _row(rng, app, name, now - datetime.timedelta(seconds=age), phase)
        row["launch_plan_id"], row["workflow_id"] = ids[rng.choices(plan_names, plan_weights)[0]]
        rows.append(row)
    finished = range(EXECUTIONS - UNFINISHED)
    for index in rng.sample(finished, RARE_EXECUTIONS):
        rows[index]["launch_plan_id"], rows[index]["workflow_id"] = ids[rare.name]
        rows[index]["state"] = execution_pb2.EXECUTION_ACTIVE  # all listed, so the page is known
    by_id = {plan_id: plan for plan, (plan_id, _) in ids.items()}
    for row in rows:
        row["spec_uri"] = spec_uris[by_id[row["launch_plan_id"]]]
    own = rng.sample(finished, GET_CALLS)
    for index in own:
        row = rows[index]
        row["spec_uri"] = storage.join(
            blobs.execution_data_prefix(prefix, PROJECT, DOMAIN, row["name"]), "spec.pb"
        )
        storage.write_proto(row["spec_uri"], _spec(by_id[row["launch_plan_id"]]))
    with app.db.begin() as session:
        for first in range(0, EXECUTIONS, INSERT_BATCH):
            session.execute(sqlalchemy.insert(models.Execution), rows[first : first + INSERT_BATCH])
    with app.db.engine.begin() as connection:
        # Planner statistics, as autovacuum keeps them on a database that grew over a month; without them
        # PostgreSQL takes the freshly loaded table for empty and picks plans that read all of it.
        connection.execute(sqlalchemy.text("ANALYZE executions"))
    own_names = {rows[i]["name"] for i in own}
    return Seeded(
        shared=[
            r["name"] for r in rng.sample(rows[: finished.stop], GET_CALLS) if r["name"] not in own_names
        ],
        own=[rows[i]["name"] for i in own],
        busy_plan=plan_names[4],
        rare_plan=rare.name,
        seconds=time.perf_counter() - started,
    )


def get_and_list() -> list[tuple[str, ...]]:
    """Latency of Get and List calls on PostgreSQL with EXECUTIONS executions; table rows."""
    with postgres_database() as url:
        if url is None:
            return [("skipped: no PostgreSQL server at 127.0.0.1:5432", "", "", "")]
        with (
            tempfile.TemporaryDirectory() as folder,
            running_admin(Path(folder), url) as app,
            admin_stub(app) as stub,
        ):
            seeded = seed(app, stub)

            def get(names: list[str]) -> list[float]:
                requests = [
                    execution_pb2.WorkflowExecutionGetRequest(
                        id=identifier_pb2.WorkflowExecutionIdentifier(
                            project=PROJECT, domain=DOMAIN, name=name
                        )
                    )
                    for name in names
                ]
                return timed(stub.GetExecution, requests)

            def listing(filters: str = "", token: str = "", expect: int = PAGE) -> list[float]:
                scope = common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN)
                request = common_pb2.ResourceListRequest(id=scope, limit=PAGE, filters=filters, token=token)
                page = stub.ListExecutions(request)  # warm up, and check the filter found what it should
                if len(page.executions) != expect:
                    raise SystemExit(f"ListExecutions({filters!r}) gave {len(page.executions)} executions")
                return timed(stub.ListExecutions, [request] * LIST_CALLS)

            rare = RARE_EXECUTIONS
            measured = [
                ("GetExecution (spec cached)", get(seeded.shared)),
                ("GetExecution (spec read from the blob store)", get(seeded.own)),
                (f"ListExecutions: {PAGE} newest (default sort)", listing()),
                ("  eq(phase,SUCCEEDED) (88%)", listing("eq(phase,SUCCEEDED)")),
                ("  eq(phase,RUNNING) (~0.1%)", listing("eq(phase,RUNNING)")),
                (
                    f"  eq(launch_plan.name,{seeded.busy_plan}) (~5%)",
                    listing(f"eq(launch_plan.name,{seeded.busy_plan})"),
                ),
                (
                    f"  eq(launch_plan.name,{seeded.rare_plan}) ({rare} executions)",
                    listing(f"eq(launch_plan.name,{seeded.rare_plan})", expect=rare),
                ),
                ("  page 501 (token 50000)", listing(token="50000")),
            ]
    seeding = (
        f"seeding {EXECUTIONS:,} executions (bulk insert + ANALYZE)",
        "1",
        f"{seeded.seconds:.1f} s",
        "",
    )
    return [seeding, *[(what, str(len(s)), ms(p50(s)), ms(percentile(s, 0.99))) for what, s in measured]]


def main() -> None:
    """Measure and print both tables."""
    creates = [create_throughput("SQLite (embedded default)", "")]
    with postgres_database() as url:
        if url is None:
            creates.append(("PostgreSQL: skipped (no server at 127.0.0.1:5432)", "", "", "", "", ""))
        else:
            creates.append(create_throughput("PostgreSQL", url))
    print_table(
        f"CreateExecution, {CLIENTS} concurrent gRPC clients for {CREATE_SECONDS:.0f} s each, workers=0",
        ["database", "requests/s", "n", "p50", "p99", "errors"],
        creates,
        note=(
            "Each CreateExecution: validate; resolve the launch plan (rows; its closure blobs are cached); check "
            "and merge the inputs; insert the execution row and its first engine state in one transaction; "
            "write four blobs (spec, user inputs, merged inputs, compiled workflow) to the local file store. "
            "No engine worker runs, so nothing else competes for the database or the interpreter."
        ),
    )
    print_table(
        f"GetExecution and ListExecutions with {EXECUTIONS:,} executions in PostgreSQL (one client)",
        ["call", "n", "p50", "p99"],
        get_and_list(),
        note=(
            f"All executions are in one project and domain, over {LAUNCH_PLANS + 1} launch plans, created over "
            "30 days: 88% SUCCEEDED, 8% FAILED, the newest 300 queued or running, 1% archived; ANALYZEd after "
            f"loading. Lists ask for pages of {PAGE}. A launch plan filter joins launch_plans, so PostgreSQL "
            "cannot tell a rare launch plan from a busy one: it reads newest-first until the page is full, "
            "which for a rare one means every execution of the project and domain."
        ),
    )


if __name__ == "__main__":
    main()
