"""examples/sql_pipeline.py with `roost run`: Trino (roost-presto's test server) → pandas → BigQuery (bqemulator)
→ Snowflake (fakesnow) → pandas, every query in the engine, outputs checked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml
from test_example import example_env
from test_roost_start import client_env, server

from roost_admin.testing.server import RoostServer, tool
from roost_webapi.testing import BigQueryEmulator, FakeSnowflake

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
__all__ = ["server"]  # the `roost start` fixture, shared with test_roost_start
ANSWER = {"o0": "cy"}
"""The top Trino fare of 2024-01-01 is 12.5; paid BigQuery orders from 12.5 have a mean of 87.25; the one
Snowflake order above it is cy's."""


def test_the_pipeline_runs_locally(
    tmp_path: Path, trino_coordinator: str, bigquery_emulator: BigQueryEmulator, fakesnow: FakeSnowflake
) -> None:
    env = example_env(tmp_path, bigquery_emulator, fakesnow)
    config = Path(env["ROOST_CONFIG"])
    settings = yaml.safe_load(config.read_text())
    settings["engine"]["handlers"]["presto"] = {"coordinator": trino_coordinator, "resync_interval": 0.2}
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


def test_the_pipeline_runs_on_roost_start(server: RoostServer, tmp_path: Path) -> None:
    run = subprocess.run(
        [tool("roost"), "run", "--remote", "--wait", "--no-progress", "-o", "json", "sql_pipeline.py", "wf"],
        capture_output=True,
        text=True,
        env=client_env(server, tmp_path),
        cwd=EXAMPLES,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, f"{run.stderr}\n{server.log()}"
    assert json.loads(run.stdout) == ANSWER
