"""The console and the HTTP/JSON API with 100,000 executions (PostgreSQL at 127.0.0.1:5432, seeded as
``bench_api`` seeds it), p50 and p99 over real sockets:

- the console's executions list page (rendered HTML: the ListExecutions page of 50 and the counts per phase),
  unfiltered, by phase, by a rare launch plan, sorted by duration, and a deep page;
- the same ListExecutions page over the HTTP/JSON API and over gRPC (the peer: the same service operation),
  side by side, as a ratio: what HTTP transcoding and JSON cost over protobuf on a socket.

    python admin/bench/bench_console.py

Printed, never asserted.
"""

from __future__ import annotations

import time

import httpx
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
                def call() -> None:
                    response = http.get(base, params=params)
                    if response.status_code != 200:
                        raise SystemExit(f"{base} {params}: {response.status_code}")

                return _timed(call)

            console_rows = [
                ("console: executions, newest 50", page()),
                ("  phase FAILED", page(phase="FAILED")),
                (f"  launch plan {seeded.rare_plan}", page(launch_plan=seeded.rare_plan)),
                ("  sorted by duration", page(sort="duration")),
                ("  page 1001 (token 50000)", page(token="50000")),
            ]
            request = common_pb2.ResourceListRequest(
                id=common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN), limit=PAGE
            )
            over_grpc = _timed(lambda: stub.ListExecutions(request))
            path = f"/api/v1/executions/{PROJECT}/{DOMAIN}"
            over_json = _timed(lambda: http.get(path, params={"limit": PAGE}).raise_for_status())
            over_proto = _timed(
                lambda: http.get(
                    path, params={"limit": PAGE}, headers={"accept": "application/octet-stream"}
                ).raise_for_status()
            )
    rows = [(label, ms(p50(s)), ms(percentile(s, 0.99)), "") for label, s in console_rows]
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
        "one grouped count.",
    )


if __name__ == "__main__":
    main()
