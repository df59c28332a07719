"""examples/sql_pipeline.py with `roost run`: Trino (roost-presto's test server) → pandas → BigQuery (bqemulator)
→ Snowflake (fakesnow) → pandas, every query in the engine, outputs checked."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from test_example import example_env

from roost_webapi.testing import BigQueryEmulator, FakeSnowflake

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
ANSWER = {"o0": "cy"}
"""The top Trino fare of 2024-01-01 is 12.5; paid BigQuery orders from 12.5 have a mean of 87.25; the one
Snowflake order above it is cy's."""


@pytest.fixture(scope="module")
def coordinator() -> Iterator[str]:
    """roost-presto's Trino test server with the trips table, run as a user would (`python -m`)."""
    pytest.importorskip("roost_presto.testing", reason="the pipeline needs roost-presto[testing]")
    process = subprocess.Popen(
        [sys.executable, "-m", "roost_presto.testing", "--setup", str(EXAMPLES / "trino_trips.sql")],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    assert url.startswith("http://"), url
    yield url
    process.terminate()
    process.wait(timeout=30)


def test_the_pipeline_runs_locally(
    tmp_path: Path, coordinator: str, bigquery_emulator: BigQueryEmulator, fakesnow: FakeSnowflake
) -> None:
    env = example_env(tmp_path, bigquery_emulator, fakesnow)
    config = Path(env["ROOST_CONFIG"])
    settings = yaml.safe_load(config.read_text())
    settings["engine"]["handlers"]["presto"] = {"coordinator": coordinator, "resync_interval": 0.2}
    config.write_text(yaml.safe_dump(settings))
    run = subprocess.run(
        [
            str(Path(sys.executable).with_name("roost")),
            "run",
            "--no-progress",
            "-o",
            "json",
            "sql_pipeline.py",
            "wf",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=EXAMPLES,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == ANSWER
