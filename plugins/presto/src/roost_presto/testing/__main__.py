"""``python -m roost_presto.testing``: serve the Trino test server until interrupted."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from roost_presto.testing.server import TrinoTestServer


def main(argv: list[str] | None = None) -> int:
    """Parse the options, start the server, print its URL, and serve until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m roost_presto.testing", description="A Trino protocol server on DuckDB, for tests."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument("--catalog", action="append", default=[], help="an extra catalog (repeatable)")
    parser.add_argument("--page-rows", type=int, default=1000, help="rows per result page")
    parser.add_argument("--queued-seconds", type=float, default=0.05)
    parser.add_argument("--run-seconds", type=float, default=0.0)
    parser.add_argument("--workers", type=int, default=8, help="queries running at once")
    parser.add_argument(
        "--setup", type=Path, action="append", default=[], help="a file of Trino SQL to run first"
    )
    args = parser.parse_args(argv)
    server = TrinoTestServer(
        args.host,
        args.port,
        catalogs=("memory", *args.catalog),
        page_rows=args.page_rows,
        queued_seconds=args.queued_seconds,
        run_seconds=args.run_seconds,
        workers=args.workers,
    )
    for path in args.setup:
        for statement in (s for s in path.read_text().split(";") if s.strip()):
            server.execute(statement)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server.start()
    print(server.url, flush=True)
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
