"""The console and the HTTP/JSON API with 100,000 executions (PostgreSQL at 127.0.0.1:5432, seeded as
``bench_api`` seeds it), p50 and p99 over real sockets:

- the console's executions list page (rendered HTML: the ListExecutions page of 50 and the counts per phase),
  unfiltered, by phase, by a rare launch plan, sorted by duration, and deep pages (200 and 1001) reached by an
  offset token (as clients that count pages send) and by the keyset token the server hands out;
- ListExecutions alone over gRPC for the first page and page 200, by offset and by keyset token;
- the execution page of a 1,000-node execution: each API call the console's execution page makes (over the HTTP
  JSON API, as a browser client would), and the rendered page with and without a node's panel;
- the same ListExecutions page over the HTTP/JSON API and over gRPC (the peer: the same service operation),
  side by side, as a ratio: what HTTP transcoding and JSON cost over protobuf on a socket.

HTTP calls are made by a client in a process of its own (:func:`_timed_http`); gRPC calls from this process (the
gRPC client waits in C, outside the GIL).

    python admin/bench/bench_console.py

Printed, never asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
from _bench_big_execution import NODES, seed_big_execution
from _bench_support import (
    DOMAIN,
    PROJECT,
    bench_admin,
    ms,
    p50,
    percentile,
    postgres_database,
    print_table,
)
from bench_api import seed
from flyteidl.admin import common_pb2

CALLS = 40
PAGE = 50


_CLIENT = """
import json, sys, time, httpx
base, path, params, headers, count = json.loads(sys.argv[1])
with httpx.Client(base_url=base, timeout=60) as http:
    def call():
        response = http.get(path, params=params, headers=headers)
        if response.status_code != 200:
            raise SystemExit(f"{path} {params}: {response.status_code} {response.text[:500]}")
    call()
    seconds = []
    for _ in range(count):
        began = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - began)
print(json.dumps(seconds))
"""


def _timed_http(
    base: str, path: str, params: dict[str, str] | None = None, count: int = CALLS, accept: str = ""
) -> list[float]:
    """Seconds of ``count`` GETs (after one warm-up) from a client in a process of its own, as a browser is: a
    client in the admin's process would share its GIL with the server's threads."""
    headers = {"accept": accept} if accept else {}
    argument = json.dumps([base, path, params or {}, headers, count])
    done = subprocess.run(
        [sys.executable, "-c", _CLIENT, argument], capture_output=True, text=True, check=False, timeout=600
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr or done.stdout)
    return [float(value) for value in json.loads(done.stdout)]


def _timed(call, count: int = CALLS) -> list[float]:  # type: ignore[no-untyped-def]
    call()  # warm up
    seconds = []
    for _ in range(count):
        began = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - began)
    return seconds


def main() -> None:
    with postgres_database() as url:
        if url is None:
            print("skipped: no PostgreSQL server at 127.0.0.1:5432")
            return
        with bench_admin(url) as (app, stub), httpx.Client(base_url=app.http_url, timeout=60) as http:
            seeded = seed(app, stub)
            base = f"/console/projects/{PROJECT}/domains/{DOMAIN}/executions"

            def page(**params: str) -> list[float]:
                return _timed_http(app.http_url, base, params)

            scope = common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN)

            def keyset_token(offset: int) -> str:
                """The token the server hands out for the page starting at ``offset``."""
                before = common_pb2.ResourceListRequest(id=scope, limit=PAGE, token=str(offset - PAGE))
                return str(stub.ListExecutions(before).token)

            page_200, page_1001 = 199 * PAGE, 1000 * PAGE
            console_rows = [
                ("console: executions, newest 50", page()),
                ("  phase FAILED", page(phase="FAILED")),
                (f"  launch plan {seeded.rare_plan}", page(launch_plan=seeded.rare_plan)),
                ("  sorted by duration", page(sort="duration")),
                (f"  page 200 (offset token {page_200})", page(token=str(page_200))),
                ("  page 200 (keyset token)", page(token=keyset_token(page_200))),
                (f"  page 1001 (offset token {page_1001})", page(token=str(page_1001))),
                ("  page 1001 (keyset token)", page(token=keyset_token(page_1001))),
            ]

            def listed(token: str) -> list[float]:
                request = common_pb2.ResourceListRequest(id=scope, limit=PAGE, token=token)
                return _timed(lambda: stub.ListExecutions(request))

            grpc_rows = [
                ("ListExecutions over gRPC: first page", listed("")),
                ("  page 200, offset token", listed(str(page_200))),
                ("  page 200, keyset token", listed(keyset_token(page_200))),
                ("  page 1001, offset token", listed(str(page_1001))),
                ("  page 1001, keyset token", listed(keyset_token(page_1001))),
            ]
            big_rows = _big_execution_page(app, stub, http)
            request = common_pb2.ResourceListRequest(id=scope, limit=PAGE)
            over_grpc = _timed(lambda: stub.ListExecutions(request))
            path = f"/api/v1/executions/{PROJECT}/{DOMAIN}"
            over_json = _timed_http(app.http_url, path, {"limit": str(PAGE)})
            over_proto = _timed_http(
                app.http_url, path, {"limit": str(PAGE)}, accept="application/octet-stream"
            )
    rows = [(label, ms(p50(s)), ms(percentile(s, 0.99)), "") for label, s in [*console_rows, *grpc_rows]]
    rows += [
        (
            f"ListExecutions ({PAGE}) over gRPC (peer)",
            ms(p50(over_grpc)),
            ms(percentile(over_grpc, 0.99)),
            "1.00",
        ),
        (
            "  over HTTP, JSON",
            ms(p50(over_json)),
            ms(percentile(over_json, 0.99)),
            f"{p50(over_json) / p50(over_grpc):.2f}",
        ),
        (
            "  over HTTP, protobuf body",
            ms(p50(over_proto)),
            ms(percentile(over_proto, 0.99)),
            f"{p50(over_proto) / p50(over_grpc):.2f}",
        ),
    ]
    print_table(
        f"Console and HTTP API with {100_000:,} executions (PostgreSQL)",
        ["call", "p50", "p99", "p50 / gRPC"],
        rows,
        note=f"{CALLS} calls each after one warm-up; the console page renders HTML from one ListExecutions page and "
        "one grouped count (cached for a few seconds). HTTP from a client process of its own, gRPC in-process.",
    )

    print_table(
        f"The execution page of a {NODES:,}-node execution (PostgreSQL, HTTP)",
        ["call", "p50", "p99"],
        [(label, ms(p50(s)), ms(percentile(s, 0.99))) for label, s in big_rows],
        note=f"{BIG_CALLS} calls each after one warm-up; the API calls are those the console's execution page "
        "makes, over the HTTP/JSON API.",
    )


BIG_CALLS = 20


def _big_execution_page(app, stub, http: httpx.Client) -> list[tuple[str, list[float]]]:  # type: ignore[no-untyped-def]
    """p50/p99 rows for the execution page of a 1,000-node execution: its API calls, then the rendered page."""
    ident = seed_big_execution(app, stub)
    at = f"{ident.project}/{ident.domain}/{ident.name}"
    node = "n0"
    execution = http.get(f"/api/v1/executions/{at}").raise_for_status().json()
    workflow = execution["closure"]["workflow_id"]
    workflow_path = f"/api/v1/workflows/{PROJECT}/{DOMAIN}/{workflow['name']}/{workflow['version']}"
    calls = [
        ("GetExecution", f"/api/v1/executions/{at}", {}),
        ("GetExecutionData", f"/api/v1/data/executions/{at}", {}),
        (f"ListNodeExecutions ({NODES:,} nodes)", f"/api/v1/node_executions/{at}", {"limit": "10000"}),
        (f"GetWorkflow ({NODES:,} nodes, compiled)", workflow_path, {}),
        ("ListSignals", f"/api/v1/signals/{at}", {"limit": "100"}),
        ("GetNodeExecution (the panel)", f"/api/v1/node_executions/{at}/{node}", {}),
        ("GetNodeExecutionData", f"/api/v1/data/node_executions/{at}/{node}", {}),
        ("ListTaskExecutions", f"/api/v1/task_executions/{at}/{node}", {"limit": "1000"}),
    ]
    listed = http.get(calls[2][1], params=calls[2][2]).raise_for_status().json()
    if len(listed["node_executions"]) != NODES + 2:
        raise SystemExit(
            f"expected {NODES} nodes (and start and end), listed {len(listed['node_executions'])}"
        )
    rows = []
    for label, path, params in calls:
        rows.append((label, _timed_http(app.http_url, path, params, BIG_CALLS)))
    page = f"/console/projects/{PROJECT}/domains/{DOMAIN}/executions/{ident.name}"
    rows.append(("console: the execution page (HTML)", _timed_http(app.http_url, page, None, BIG_CALLS)))
    rows.append(
        (
            "  with the node panel open",
            _timed_http(app.http_url, page, {"node": node}, BIG_CALLS),
        )
    )
    return rows


if __name__ == "__main__":
    main()
