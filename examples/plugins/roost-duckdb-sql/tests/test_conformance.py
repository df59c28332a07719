"""The ``duckdb_sql`` handler passes roost-core's conformance suite: the subject the package declares for
`roost plugins check duckdb_sql` (roost_duckdb_sql.testing.conformance), plus its example run with ``roost run``
and on ``roost start``; and the installed package shows in `roost plugins` and `roost plugins check`."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from roost_core.testing.conformance import Example, HandlerConformance, PluginUnderTest
from roost_duckdb_sql.testing.conformance import duckdb_sql_subject

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


class TestDuckDBSQLConformance(HandlerConformance):
    @pytest.fixture
    def plugin(self, tmp_path: Path) -> PluginUnderTest:
        return dataclasses.replace(
            duckdb_sql_subject(tmp_path),
            exemptions={},
            example=Example(
                folder=EXAMPLES,
                file="workflow.py",
                workflow="wf",
                args=("--min_fare", "10"),
                expected={"o0": {"Lyon": 57.5, "Paris": 30.0}},
            ),
        )


def roost(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = Path(sys.executable).with_name("roost")
    return subprocess.run(
        [str(command), *args],
        check=False,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        env={"PATH": str(command.parent), "COLUMNS": "200", "HOME": str(tmp_path)},
    )


def test_roost_plugins_lists_both_sides_and_no_problem(tmp_path: Path) -> None:
    done = roost(tmp_path, "plugins")
    assert done.returncode == 0, done.stderr
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in done.stdout.splitlines()]
    distribution = f"roost-duckdb-sql {version('roost-duckdb-sql')}"
    # its SDK side registers nothing: the task is a class
    assert ["sdk", "duckdb_sql", distribution, "-"] in rows, done.stdout
    assert ["engine", "duckdb_sql", distribution, "handler duckdb_sql (duckdb-sql)"] in rows, done.stdout
    assert [
        "duckdb-sql",
        "duckdb_sql",
        "duckdb_sql",
        "yes",
        "the default offered by plugin 'duckdb_sql'",
    ] in rows
    assert "needs attention" not in done.stdout, done.stdout


def test_roost_plugins_check_runs_the_declared_subject(tmp_path: Path) -> None:
    done = roost(tmp_path, "plugins", "check", "duckdb_sql", "-k", "user_error or in_a_local_run")
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line for line in done.stdout.splitlines() if "TestDuckDBSQLConformance" in line]
    assert len(rows) == 2, done.stdout
    assert any("user_error_is_a_user_error" in row and "passed" in row for row in rows), rows
    assert any("runs_in_a_local_run" in row and "skipped" in row for row in rows), rows
    assert "1 passed, 0 failed, 1 skipped" in done.stdout
