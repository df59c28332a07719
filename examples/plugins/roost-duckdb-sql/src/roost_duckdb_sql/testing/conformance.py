"""The duckdb_sql handler's conformance subject (entry point ``roost.conformance``), run by ``roost plugins
check duckdb_sql`` and by the package's own tests. Needs pytest and roost-core's conformance suite."""

from __future__ import annotations

from pathlib import Path

import pytest
from flyteidl.core import literals_pb2

import roost_duckdb_sql.engine
from roost.extend import check_task_template
from roost_core.testing.conformance import HandlerConformance, PluginUnderTest, TaskCase
from roost_duckdb_sql.task import DuckDBSQLTask
from roost_duckdb_sql.testing import running_queries

SLOW_ROWS = 300_000_000
"""Rows the slow query sums on one thread: a second or more on a small machine; an abort stops it at once."""


def case(task: DuckDBSQLTask, **inputs: literals_pb2.Literal) -> TaskCase:
    """The task's template (checked by the SDK's test kit on the way) with ``inputs``."""
    return TaskCase(check_task_template(task), literals_pb2.LiteralMap(literals=inputs))


def integer(value: int) -> literals_pb2.Literal:
    """An integer literal."""
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=value)))


def duckdb_sql_subject(root: Path) -> PluginUnderTest:
    """The duckdb_sql handler, one DuckDB thread per query; ``root`` is a scratch folder (the unreachable
    case names a database file in a folder under it that does not exist)."""
    doubled = DuckDBSQLTask("doubled", "select $x * 2 as doubled", inputs={"x": int})
    slow = DuckDBSQLTask("slow_sum", "select sum(i) as total from range($n) t(i)", inputs={"n": int})
    broken = DuckDBSQLTask("broken", "select * from no_such_table")
    return PluginUnderTest(
        plugins=[roost_duckdb_sql.engine],
        handler="duckdb_sql",
        section={"threads": 1},
        succeeds=case(doubled, x=integer(21)),
        slow=case(slow, n=integer(SLOW_ROWS)),
        fails_user=case(broken),
        # the engine's configuration is at fault: a SYSTEM error
        unreachable={"database": str(root / "missing" / "warehouse.duckdb")},
        running=running_queries,
        exemptions={
            "local_run": "an installed plugin has no example workflow; the package's tests run "
            "examples/workflow.py",
            "roost_start": "an installed plugin has no example workflow; the package's tests run "
            "examples/workflow.py on `roost start`",
        },
    )


class TestDuckDBSQLConformance(HandlerConformance):
    """The conformance suite on the duckdb_sql handler."""

    @pytest.fixture
    def plugin(self, tmp_path: Path) -> PluginUnderTest:
        """The duckdb_sql handler."""
        return duckdb_sql_subject(tmp_path)
