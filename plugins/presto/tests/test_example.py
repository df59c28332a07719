"""examples/trino_trips.py: a Trino query with typed inputs into a pandas task, run with `roost run` and on
`roost start`, against the Trino test server run as a process (as a user would run it)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

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
    pytest.importorskip(
        "roost_admin", reason="`roost start` needs roost-admin (the presto nox session installs it)"
    )
    config = tmp_path / "roost.yaml"
    config.write_text(
        yaml.safe_dump(
            {"engine": {"handlers": {"presto": {"coordinator": coordinator, "resync_interval": 0.2}}}}
        )
    )
    command = [tool("roost"), "start", "--config", str(config), "--data-dir", str(tmp_path / "roost")]
    command += ["--grpc-port", "0", "--http-port", "0", "--workers", "2"]
    server = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=clean_env(tmp_path),
        cwd=tmp_path,
    )
    output: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert server.stdout is not None
        for line in server.stdout:
            output.append(line)
            if line.startswith("Press Ctrl-C"):
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert ready.wait(90), "".join(output)
        grpc = re.search(r"gRPC:\s+(\S+)", "".join(output))
        assert grpc is not None and server.poll() is None, "".join(output)
        env = {
            **clean_env(tmp_path),
            "ROOST_ENDPOINT": grpc.group(1),
            "ROOST_CLIENT_CONFIG": str(tmp_path / "client.yaml"),
        }
        result = subprocess.run(
            [
                tool("roost"),
                "run",
                "--remote",
                "--wait",
                "--no-progress",
                "-o",
                "json",
                "trino_trips.py",
                "wf",
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=EXAMPLES,
            timeout=TIMEOUT,
            check=False,
        )
        assert result.returncode == 0, result.stderr + "".join(output)
        assert json.loads(result.stdout) == ANSWER
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
