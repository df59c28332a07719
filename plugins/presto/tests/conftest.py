"""Fixtures: the Trino test server, with a small table of trips."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from roost_presto.testing import TrinoTestServer

TRIPS = """
CREATE TABLE memory.default.trips AS
SELECT * FROM (VALUES
    (1, 'ams', DATE '2024-01-01', 12.5),
    (2, 'ber', DATE '2024-01-01', 7.25),
    (3, 'ams', DATE '2024-01-02', 3.0),
    (4, 'cdg', DATE '2024-01-02', 20.0),
    (5, 'ams', DATE '2024-01-03', 9.75)
) AS t(id, city, ds, fare)
"""


@pytest.fixture
def trino_server() -> Iterator[TrinoTestServer]:
    """A Trino test server with ``memory.default.trips`` (5 rows), 2 rows per result page."""
    with TrinoTestServer(page_rows=2, queued_seconds=0.05) as server:
        server.execute(TRIPS)
        yield server
