"""The client config: `roost config init` writes it, ROOST_* variables override it, mistakes are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from roost.errors import RemoteError
from roost.remote import ClientConfig


@pytest.fixture(autouse=True)
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "client.yaml"
    monkeypatch.setenv("ROOST_CLIENT_CONFIG", str(path))
    for name in ("ROOST_ENDPOINT", "ROOST_INSECURE", "ROOST_PROJECT", "ROOST_DOMAIN"):
        monkeypatch.delenv(name, raising=False)
    return path


def test_defaults_then_the_saved_file_then_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ClientConfig.load() == ClientConfig("localhost:8089", True, "flytesnacks", "development")
    ClientConfig("dns:///admin:81", False, "ml", "staging").save()
    assert ClientConfig.load() == ClientConfig("dns:///admin:81", False, "ml", "staging")
    assert ClientConfig.load().target == "admin:81"
    monkeypatch.setenv("ROOST_ENDPOINT", "127.0.0.1:9000")
    monkeypatch.setenv("ROOST_PROJECT", "other")
    assert ClientConfig.load() == ClientConfig("127.0.0.1:9000", False, "other", "staging")
    monkeypatch.setenv("ROOST_INSECURE", "true")  # as the admin tells its task processes
    assert ClientConfig.load().insecure is True
    monkeypatch.setenv("ROOST_INSECURE", "False")
    assert ClientConfig.load().insecure is False


def test_a_malformed_insecure_flag_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROOST_INSECURE", "maybe")
    with pytest.raises(RemoteError) as caught:
        ClientConfig.load()
    assert str(caught.value) == "ROOST_INSECURE must be true or false, not 'maybe'"


def test_unknown_settings_are_named(config_file: Path) -> None:
    config_file.write_text("endpoint: x:1\nprojct: ml\n")
    with pytest.raises(RemoteError) as caught:
        ClientConfig.load()
    assert str(caught.value) == f"{config_file}: unknown setting(s) projct"


def test_a_file_that_is_not_a_mapping_is_refused(config_file: Path) -> None:
    config_file.write_text("- endpoint\n")
    with pytest.raises(RemoteError) as caught:
        ClientConfig.load()
    assert str(caught.value) == f"{config_file} must hold a mapping (endpoint, insecure, project, domain)"
