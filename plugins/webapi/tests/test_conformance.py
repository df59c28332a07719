"""Both web-API handlers pass the handler conformance suite (roost_core.testing.conformance), as the subjects the
package declares for `roost plugins check webapi` (roost_webapi.testing.conformance): ``bigquery`` against
bqemulator and ``snowflake`` against fakesnow, each through the recording proxy that counts the submissions. The
example workflows' local and `roost start` runs are test_example.py's and test_roost_start.py's."""

from roost_webapi.testing.conformance import TestBigQueryConformance, TestSnowflakeConformance

__all__ = ["TestBigQueryConformance", "TestSnowflakeConformance"]
