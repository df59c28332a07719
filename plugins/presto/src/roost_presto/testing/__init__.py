"""A Trino coordinator for tests, shipped for users' own tests too: Trino's client protocol on DuckDB.

::

    from roost_presto.testing import TrinoTestServer

    with TrinoTestServer(page_rows=100) as trino:
        trino.execute("CREATE TABLE memory.default.trips AS SELECT 1 AS id")
        ...  # point the trino client, or roost's presto handler, at trino.url
        assert trino.submissions == 1

Or as a process: ``python -m roost_presto.testing --port 8080`` (``--port 0`` picks a free port; the first line
printed is the URL). Needs the ``testing`` extra (DuckDB and sqlglot).
"""

from roost_presto.testing.server import QueryRecord, TrinoTestServer
from roost_presto.testing.sql import TrinoError, internal_error, user_error

__all__ = ["QueryRecord", "TrinoError", "TrinoTestServer", "internal_error", "user_error"]
