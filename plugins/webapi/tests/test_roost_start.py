"""On `roost start`: the example run remotely, and flytekit 1.16's own BigQueryTask and SnowflakeTask registered with
`pyflyte register`, run by the engine's handlers against the stand-ins."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import PROJECT, bigquery_section, snowflake_section
from test_example import ANSWER, EXAMPLE
from test_sdk import FLYTEKIT

from roost_admin.testing.server import RoostServer, start_roost, tool
from roost_core.testing.virtualenv import (
    VirtualenvBuildError,
    cached_virtualenv,
    kept_folder,
    requirements_key,
)
from roost_webapi.testing import BigQueryEmulator, FakeSnowflake

PROJECT_SOURCE = Path(__file__).with_name("flytekit_project")


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
    bigquery_emulator: BigQueryEmulator,
    fakesnow: FakeSnowflake,
    trino_coordinator: str,
) -> Iterator[RoostServer]:
    """`roost start` with the BigQuery, Snowflake and (for examples/sql_pipeline.py) Trino handlers configured."""
    handlers = {
        "bigquery": bigquery_section(bigquery_emulator.url),
        "snowflake": snowflake_section(fakesnow.port),
        "presto": {"coordinator": trino_coordinator, "resync_interval": 0.2},
    }
    started = start_roost(
        tmp_path_factory.mktemp("roost-start"),
        {"engine": {"handlers": handlers}},
        env={"ROOST_SECRET_SNOWFLAKE_PASSWORD": "any"},  # the engine's secret provider reads it
    )
    yield started
    started.stop()


def client_env(server: RoostServer, home: Path) -> dict[str, str]:
    """A client of ``server`` that runs the examples against the BigQuery stand-in's project."""
    return {**server.client_env(home), "ROOST_EXAMPLE_BIGQUERY_PROJECT": PROJECT}


def test_the_example_runs_on_roost_start(server: RoostServer, tmp_path: Path) -> None:
    run = subprocess.run(
        [tool("roost"), "run", "--remote", "--wait", "--no-progress", "-o", "json", EXAMPLE.name, "wf"],
        capture_output=True,
        text=True,
        env=client_env(server, tmp_path),
        cwd=EXAMPLE.parent,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, f"{run.stderr}\n{server.log()}"
    assert json.loads(run.stdout) == ANSWER


@pytest.fixture(scope="module")
def flytekit_python(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = kept_folder(
        pytestconfig, tmp_path_factory.mktemp, f"flytekit-webapi-{requirements_key(FLYTEKIT)}"
    )
    try:
        return str(cached_virtualenv(folder, FLYTEKIT) / "bin" / "python")
    except VirtualenvBuildError as exc:
        pytest.fail(str(exc), pytrace=False)


def test_flytekit_query_tasks_registered_with_pyflyte_run_on_roost(
    server: RoostServer, flytekit_python: str, tmp_path: Path
) -> None:
    import pyarrow.parquet

    project = shutil.copytree(PROJECT_SOURCE, tmp_path / "project")
    config = tmp_path / "pyflyte.yaml"
    config.write_text(
        yaml.safe_dump({"admin": {"endpoint": f"dns:///{server.grpc_endpoint}", "insecure": True}})
    )
    env = {**os.environ, "ROOST_TEST_BIGQUERY_PROJECT": PROJECT}
    pyflyte = str(Path(flytekit_python).with_name("pyflyte"))
    register = subprocess.run(
        [pyflyte, "--config", str(config), "register", "--project", "flytesnacks", "--domain", "development",
         "--version", "q1", "queries.py"],
        capture_output=True, text=True, cwd=project, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert register.returncode == 0, f"{register.stdout}\n{register.stderr}\n{server.log()}"
    drive = subprocess.run(
        [flytekit_python, "drive.py", str(config), "q1"],
        capture_output=True, text=True, cwd=project, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert drive.returncode == 0, f"{drive.stderr}\n{server.log()}"
    result = json.loads(drive.stdout.strip().splitlines()[-1])
    assert result["phase"] == 4, f"{result}\n{server.log()}"
    bigquery_rows = pyarrow.parquet.read_table(_local(result["outputs"]["o0"]))
    assert bigquery_rows.to_pydict() == {"id": [1, 3, 4], "amount": [12.5, 150.25, 99.0]}
    snowflake_rows = pyarrow.parquet.read_table(_local(result["outputs"]["o1"]))
    assert snowflake_rows.to_pydict() == {"ID": [2, 3], "CUSTOMER": ["bob", "cy"]}


def _local(uri: str) -> io.BytesIO:
    assert uri.startswith("file://"), uri
    return io.BytesIO((Path(uri.removeprefix("file://")) / "00000").read_bytes())
