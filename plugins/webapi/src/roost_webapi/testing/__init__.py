"""Stand-ins for BigQuery and Snowflake, for this package's tests and for users' own.

* :class:`BigQueryEmulator`: the ``bqemulator`` package (a BigQuery REST API on DuckDB) in a process of its own;
* :class:`FakeSnowflake`: ``fakesnow`` in server mode (Snowflake's REST protocol on DuckDB);
* :class:`RecordingProxy`: an HTTP proxy in front of either, which records the calls (to count submissions and
  see cancellations), holds jobs as running, and checks credentials, which neither stand-in does;
* :func:`standin_virtualenv`: the virtualenv a stand-in runs in. Their pins clash with each other (sqlglot,
  DuckDB) and with the clients', so each gets its own, built with uv on first use.

The real clients (``google-cloud-bigquery``, ``snowflake-connector-python``) are what talks to them.
"""

from roost_webapi.testing.proxy import Call, RecordingProxy
from roost_webapi.testing.standins import (
    BIGQUERY_REQUIREMENTS,
    SNOWFLAKE_REQUIREMENTS,
    BigQueryEmulator,
    FakeSnowflake,
    StandInError,
    standin_virtualenv,
)

__all__ = [
    "BIGQUERY_REQUIREMENTS",
    "SNOWFLAKE_REQUIREMENTS",
    "BigQueryEmulator",
    "Call",
    "FakeSnowflake",
    "RecordingProxy",
    "StandInError",
    "standin_virtualenv",
]
