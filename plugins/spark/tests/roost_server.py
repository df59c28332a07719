"""`roost start` in a subprocess on ports the system picks, and the `roost` CLI pointed at it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

START_TIMEOUT = 90.0
RUN_TIMEOUT = 600


def tool(name: str) -> str:
    """A console script of the environment running the tests."""
    return str(Path(sys.executable).with_name(name))


@dataclass
class RoostServer:
    """A running `roost start` and how to reach it."""

    process: subprocess.Popen[str]
    grpc_endpoint: str
    data_dir: Path
    output: list[str] = field(default_factory=list)

    def client_env(self, home: Path) -> dict[str, str]:
        """The environment of `roost` client commands talking to this server."""
        return {
            **os.environ,
            "ROOST_ENDPOINT": self.grpc_endpoint,
            "ROOST_CLIENT_CONFIG": str(home / "client.yaml"),
            "XDG_DATA_HOME": str(home / "data"),
            "ROOST_CACHE_DIR": str(home / "cache"),
        }

    def log(self) -> str:
        """What the server printed so far."""
        return "".join(self.output)

    def stop(self) -> None:
        """Ctrl-C, as a user stops it."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_roost(folder: Path, settings: dict[str, Any] | None = None) -> RoostServer:
    """`roost start` with ``settings`` as its configuration file, its data under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "roost.yaml"
    config.write_text(yaml.safe_dump(settings or {}))
    command = [tool("roost"), "start", "--config", str(config), "--data-dir", str(folder / "roost")]
    command += ["--grpc-port", "0", "--http-port", "0", "--workers", "2"]
    env = {key: value for key, value in os.environ.items() if not key.startswith("ROOST_")}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=folder
    )
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
            raise AssertionError(f"roost start did not come up in {START_TIMEOUT}s:\n{''.join(output)}")
    text = "".join(output)
    grpc = re.search(r"gRPC:\s+(\S+)", text)
    if process.poll() is not None or grpc is None:
        raise AssertionError(f"roost start failed:\n{text}")
    return RoostServer(process, grpc.group(1), folder / "roost", output)


def roost(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """A `roost` command."""
    return subprocess.run(
        [tool("roost"), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=RUN_TIMEOUT,
        check=False,
    )
