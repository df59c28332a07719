"""The admin's settings: one pydantic-settings model, read from defaults, a YAML file, ``ROOST_*`` variables and
options, in that order of precedence; mistakes in the file are named."""

from __future__ import annotations

import os

import pytest
import yaml
from pydantic import ValidationError

from roost_admin.config import Settings, load_settings


@pytest.fixture(autouse=True)
def no_config_in_the_environment(monkeypatch):
    monkeypatch.delenv("ROOST_CONFIG", raising=False)
    monkeypatch.delenv("ROOST_GRPC_PORT", raising=False)


def write(path, data) -> str:
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_the_file_the_environment_and_options_override_in_turn(tmp_path, monkeypatch):
    config = write(
        tmp_path / "roost.yaml", {"grpc_port": 9001, "http_port": 9002, "engine": {"poll_interval": 2}}
    )
    from_file = load_settings(config)
    assert (from_file.grpc_port, from_file.http_port, from_file.engine) == (9001, 9002, {"poll_interval": 2})
    assert from_file.config_file == config
    monkeypatch.setenv("ROOST_GRPC_PORT", "9003")
    assert load_settings(config).grpc_port == 9003
    assert load_settings(config, grpc_port=9004, http_port=None).grpc_port == 9004
    assert load_settings(config, http_port=None).http_port == 9002


def test_loading_a_file_changes_no_environment_variable(tmp_path):
    load_settings(write(tmp_path / "roost.yaml", {"workers": 1}))
    assert "ROOST_CONFIG" not in os.environ
    assert Settings().workers == 2
    assert Settings().config_file is None


def test_roost_config_names_the_file_when_no_option_does(tmp_path, monkeypatch):
    config = write(tmp_path / "roost.yaml", {"workers": 5})
    monkeypatch.setenv("ROOST_CONFIG", config)
    assert Settings().workers == 5
    assert load_settings().config_file == config
    other = write(tmp_path / "other.yaml", {"workers": 7})
    assert load_settings(other).workers == 7


def test_mistakes_in_the_file_are_named(tmp_path):
    with pytest.raises(ValueError, match="cannot read the config file") as unreadable:
        load_settings(tmp_path / "missing.yaml")
    assert str(unreadable.value).startswith(f"cannot read the config file {tmp_path / 'missing.yaml'}: ")
    listed = tmp_path / "list.yaml"
    listed.write_text("- grpc_port\n")
    with pytest.raises(ValueError, match="must hold a mapping") as not_a_mapping:
        load_settings(listed)
    assert str(not_a_mapping.value) == f"the config file {listed} must hold a mapping of settings"
    with pytest.raises(ValidationError) as unknown:
        load_settings(write(tmp_path / "typo.yaml", {"grpc_prot": 1}))
    assert "grpc_prot" in str(unknown.value) and "Extra inputs are not permitted" in str(unknown.value)
