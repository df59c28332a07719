"""On `roost start`: the example run remotely, and flytekit 1.16's own BigQueryTask and SnowflakeTask registered with
`pyflyte register`, run by the engine's handlers against the stand-ins."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from conftest import PROJECT, bigquery_section, snowflake_section
from test_example import ANSWER, EXAMPLE
from test_sdk import FLYTEKIT

from roost_core.testing.virtualenv import (
    VirtualenvBuildError,
    cached_virtualenv,
    kept_folder,
    requirements_key,
)
from roost_webapi.testing import BigQueryEmulator, FakeSnowflake

START_TIMEOUT = 90.0
PROJECT_SOURCE = Path(__file__).with_name("flytekit_project")


@dataclass
class Server:
    process: subprocess.Popen[str]
    grpc: str
    output: list[str]

    def log(self) -> str:
        return "".join(self.output)


def tool(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
    bigquery_emulator: BigQueryEmulator,
    fakesnow: FakeSnowflake,
    trino_coordinator: str,
) -> Iterator[Server]:
    """`roost start` with the BigQuery, Snowflake and (for examples/sql_pipeline.py) Trino handlers configured."""
    folder = tmp_path_factory.mktemp("roost-start")
    config = folder / "roost.yaml"
    handlers = {
        "bigquery": bigquery_section(bigquery_emulator.url),
        "snowflake": snowflake_section(fakesnow.port),
        "presto": {"coordinator": trino_coordinator, "resync_interval": 0.2},
    }
    config.write_text(yaml.safe_dump({"engine": {"handlers": handlers}}))
    command = [tool("roost"), "start", "--config", str(config), "--data-dir", str(folder / "data")]
    command += ["--grpc-port", "0", "--http-port", "0", "--workers", "2"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_")}
    env["ROOST_SECRET_SNOWFLAKE_PASSWORD"] = "any"  # the engine's secret provider reads it
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    output: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if line.startswith("Press Ctrl-C"):
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT
    while not ready.wait(0.1):
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"roost start did not come up:\n{''.join(output)}", pytrace=False)
    grpc = re.search(r"gRPC:\s+(\S+)", "".join(output))
    if process.poll() is not None or grpc is None:
        pytest.fail(f"roost start failed:\n{''.join(output)}", pytrace=False)
    yield Server(process, grpc.group(1), output)
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def client_env(server: Server, home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "ROOST_ENDPOINT": server.grpc,
        "ROOST_CLIENT_CONFIG": str(home / "client.yaml"),
        "XDG_DATA_HOME": str(home / "data"),
        "ROOST_CACHE_DIR": str(home / "cache"),
        "ROOST_EXAMPLE_BIGQUERY_PROJECT": PROJECT,
    }


def test_the_example_runs_on_roost_start(server: Server, tmp_path: Path) -> None:
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
    server: Server, flytekit_python: str, tmp_path: Path
) -> None:
    import pyarrow.parquet

    project = shutil.copytree(PROJECT_SOURCE, tmp_path / "project")
    config = tmp_path / "pyflyte.yaml"
    config.write_text(yaml.safe_dump({"admin": {"endpoint": f"dns:///{server.grpc}", "insecure": True}}))
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
