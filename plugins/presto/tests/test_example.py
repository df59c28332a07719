"""examples/trino_trips.py: a Trino query with typed inputs into a pandas task, run with `roost run` and on
`roost start`, against the Trino test server run as a process (as a user would run it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
ANSWER = {"o0": {"ams": 15.5, "ber": 12.0}}
TIMEOUT = 240


def tool(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


@pytest.fixture(scope="module")
def coordinator() -> Iterator[str]:
    """`python -m roost_presto.testing` with the example's table; its URL."""
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


def clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_")}
    return {**env, "XDG_DATA_HOME": str(tmp_path / "data"), "ROOST_CACHE_DIR": str(tmp_path / "cache")}


def test_roost_run(tmp_path: Path, coordinator: str) -> None:
    env = {**clean_env(tmp_path), "ROOST_TRINO_COORDINATOR": coordinator}
    result = subprocess.run(
        [tool("roost"), "run", "--no-progress", "-o", "json", "trino_trips.py", "wf", "--ds", "2024-01-01"],
        capture_output=True,
        text=True,
        env=env,
        cwd=EXAMPLES,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ANSWER


def test_roost_start(tmp_path: Path, coordinator: str) -> None:
    """The coordinator comes from the engine's configuration file; the client's environment has none."""
    server_module = pytest.importorskip(
        "roost_admin.testing.server",
        reason="`roost start` needs roost-admin (the presto nox session installs it)",
    )
    settings = {"engine": {"handlers": {"presto": {"coordinator": coordinator, "resync_interval": 0.2}}}}
    server = server_module.start_roost(tmp_path / "server", settings)
    try:
        result = server_module.run_roost(
            server.client_env(tmp_path, base=clean_env(tmp_path)),
            *("run", "--remote", "--wait", "--no-progress", "-o", "json", "trino_trips.py", "wf"),
            cwd=EXAMPLES,
            timeout=TIMEOUT,
        )
        assert result.returncode == 0, result.stderr + server.log()
        assert json.loads(result.stdout) == ANSWER
    finally:
        server.stop()
