"""The ``duckdb_sql`` handler passes roost-core's conformance suite, and its example runs with ``roost run`` and
on ``roost start`` (the suite's ``local_run`` and ``roost_start`` checks)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import primitive, running_queries, template_of
from flyteidl.core import literals_pb2

import roost_duckdb_sql.engine
from roost_core.testing.conformance import Example, HandlerConformance, PluginUnderTest, TaskCase
from roost_duckdb_sql import DuckDBSQLTask

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

SLOW_ROWS = 300_000_000
"""Rows the slow query sums on one thread: a second or more on a small machine, interrupted at once."""


def case(task: DuckDBSQLTask, **inputs: literals_pb2.Literal) -> TaskCase:
    return TaskCase(template_of(task), literals_pb2.LiteralMap(literals=inputs))


class TestDuckDBSQLConformance(HandlerConformance):
    @pytest.fixture
    def plugin(self, tmp_path: Path) -> PluginUnderTest:
        doubled = DuckDBSQLTask("doubled", "select $x * 2 as doubled", inputs={"x": int})
        slow = DuckDBSQLTask("slow_sum", "select sum(i) as total from range($n) t(i)", inputs={"n": int})
        broken = DuckDBSQLTask("broken", "select * from no_such_table")
        return PluginUnderTest(
            plugins=[roost_duckdb_sql.engine],
            handler="duckdb_sql",
            section={"threads": 1},
            succeeds=case(doubled, x=primitive(integer=21)),
            slow=case(slow, n=primitive(integer=SLOW_ROWS)),
            fails_user=case(broken),
            # a database file in a folder that does not exist: the engine's configuration is at fault
            unreachable={"database": str(tmp_path / "missing" / "warehouse.duckdb")},
            running=running_queries,
            example=Example(
                folder=EXAMPLES,
                file="workflow.py",
                workflow="wf",
                args=("--min_fare", "10"),
                expected={"o0": {"Lyon": 57.5, "Paris": 30.0}},
            ),
        )
