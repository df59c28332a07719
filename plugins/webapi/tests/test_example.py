"""examples/bigquery_snowflake.py with `roost run`, against the stand-ins, outputs checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from conftest import PROJECT, bigquery_section, snowflake_section

from roost_webapi.testing import BigQueryEmulator, FakeSnowflake

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "bigquery_snowflake.py"
ANSWER = {"o0": "cy"}
"""Paid BigQuery orders of at least 10 have a mean of 87.25; the one Snowflake order above it is cy's."""


def example_env(
    tmp_path: Path, bigquery_emulator: BigQueryEmulator, fakesnow: FakeSnowflake
) -> dict[str, str]:
    """A roost.yaml pointing the handlers at the stand-ins, and the environment naming it and the secret."""
    config = tmp_path / "roost.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "engine": {
                    "handlers": {
                        "bigquery": bigquery_section(bigquery_emulator.url),
                        "snowflake": snowflake_section(fakesnow.port),
                    }
                }
            }
        )
    )
    return {
        **os.environ,
        "ROOST_CONFIG": str(config),
        "ROOST_SECRET_SNOWFLAKE_PASSWORD": "any",
        "ROOST_EXAMPLE_BIGQUERY_PROJECT": PROJECT,
        "ROOST_CACHE_DIR": str(tmp_path / "cache"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }


def test_the_example_runs_locally(
    tmp_path: Path, bigquery_emulator: BigQueryEmulator, fakesnow: FakeSnowflake
) -> None:
    roost = Path(sys.executable).with_name("roost")
    run = subprocess.run(
        [str(roost), "run", "--no-progress", "-o", "json", str(EXAMPLE), "wf", "--minimum", "10"],
        capture_output=True,
        text=True,
        env=example_env(tmp_path, bigquery_emulator, fakesnow),
        timeout=300,
        cwd=tmp_path,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == ANSWER
