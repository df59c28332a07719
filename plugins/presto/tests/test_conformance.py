"""The presto handler passes the handler conformance suite (roost_core.testing.conformance) against the Trino
test server, with the real trino client: the subject the package declares for `roost plugins check presto`
(roost_presto.testing.conformance), plus its example run with `roost run` and on `roost start`; and `roost
plugins check presto` itself prints its table of checks."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from roost_core.testing.conformance import Example, HandlerConformance, PluginUnderTest
from roost_presto.testing import TrinoTestServer
from roost_presto.testing.conformance import presto_subject

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.fixture
def coordinator() -> Iterator[TrinoTestServer]:
    """A Trino test server with the example's table; every query runs for a second (the slow case)."""
    with TrinoTestServer(page_rows=2, queued_seconds=0.05, run_seconds=1.0) as server:
        server.execute((EXAMPLES / "trino_trips.sql").read_text())
        yield server


class TestTrinoHandlerConformance(HandlerConformance):
    @pytest.fixture
    def plugin(self, coordinator: TrinoTestServer) -> PluginUnderTest:
        server = coordinator
        return dataclasses.replace(
            presto_subject(server),
            exemptions={},
            example=Example(
                folder=EXAMPLES,
                file="trino_trips.py",
                workflow="wf",
                args=("--ds", "2024-01-01"),
                expected={"o0": {"ams": 15.5, "ber": 12.0}},
                env={"ROOST_TRINO_COORDINATOR": server.url},
                server_settings={
                    "engine": {"handlers": {"presto": {"coordinator": server.url, "resync_interval": 0.2}}}
                },
            ),
        )


def test_roost_plugins_check_runs_the_declared_subject_and_prints_each_check(tmp_path: Path) -> None:
    roost = Path(sys.executable).with_name("roost")
    done = subprocess.run(
        [str(roost), "plugins", "check", "presto", "-k", "state_round_trips or in_a_local_run"],
        check=False,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        env={"PATH": str(roost.parent), "COLUMNS": "200", "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line for line in done.stdout.splitlines() if "TestPrestoConformance" in line]
    assert len(rows) == 2, done.stdout
    assert any("state_round_trips_through_json" in row and "passed" in row for row in rows), rows
    assert any(
        "runs_in_a_local_run" in row and "skipped" in row and "no example workflow" in row for row in rows
    ), rows
    assert "1 passed, 0 failed, 1 skipped" in done.stdout
