"""How long the SeaweedFS test server takes to start, serve a first write, and stop (printed)."""

from __future__ import annotations

import statistics
import time

from roost_core.testing.seaweed import SeaweedS3

ROUNDS = 5


def main() -> None:
    """Start and stop the server a few times and print the timings."""
    startups, first_writes, stops = [], [], []
    for _ in range(ROUNDS):
        began = time.monotonic()
        with SeaweedS3(buckets=["bench"]) as server:
            startups.append(server.startup_seconds)
            server.client().put_object(Bucket="bench", Key="first", Body=b"x")
            first_writes.append(time.monotonic() - began)
            stopping = time.monotonic()
        stops.append(time.monotonic() - stopping)
    for name, values in (
        ("start (S3 answers, bucket made)", startups),
        ("start + first write", first_writes),
        ("stop + cleanup", stops),
    ):
        print(
            f"seaweed {name}: median {statistics.median(values):.3f}s, "
            f"min {min(values):.3f}s, max {max(values):.3f}s over {ROUNDS} rounds"
        )


if __name__ == "__main__":
    main()
