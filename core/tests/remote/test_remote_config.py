"""RemoteJobSettings: defaults, a full section, and the errors for bad sections (key path and expected type)."""

from __future__ import annotations

from typing import Any

import pytest

from roost_core.errors import SettingsError
from roost_core.remote import RateLimit, RemoteJobSettings
from roost_core.settings import validate_section

WHERE = "engine.handlers.trino"


def parse(section: dict[str, Any]) -> RemoteJobSettings:
    return validate_section(RemoteJobSettings, section, path=WHERE)


def test_defaults() -> None:
    settings = parse({})
    assert settings == RemoteJobSettings()
    assert settings.quotas == {}
    assert settings.read_rate_limit == RateLimit(qps=30.0, burst=300)
    assert settings.write_rate_limit == RateLimit(qps=20.0, burst=200)
    assert (settings.resync_interval, settings.workers, settings.max_system_failures) == (30.0, 10, 5)


def test_full_section() -> None:
    settings = parse(
        {
            "quotas": {"adhoc": 20, "etl": 5},
            "read_rate_limit": {"qps": 5, "burst": 10},
            "write_rate_limit": {"qps": 0.5},
            "resync_interval": "2s",
            "workers": 4,
            "max_system_failures": 0,
        }
    )
    assert settings.quotas == {"adhoc": 20, "etl": 5}
    assert settings.read_rate_limit == RateLimit(qps=5.0, burst=10)
    assert settings.write_rate_limit == RateLimit(qps=0.5, burst=200), "an omitted burst keeps its default"
    assert (settings.resync_interval, settings.workers, settings.max_system_failures) == (2.0, 4, 0)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            {"quota": {"a": 1}},
            "quota: unknown key; known: max_system_failures, quotas, read_rate_limit, resync_interval, "
            "workers, write_rate_limit",
        ),
        ({"quotas": ["adhoc"]}, "quotas: input should be a valid dictionary, got ['adhoc']"),
        ({"quotas": {"adhoc": 0}}, "quotas: quota 'adhoc' must be at least 1, got {'adhoc': 0}"),
        (
            {"quotas": {"adhoc": 2.5}},
            "quotas.adhoc: input should be a valid integer, got a number with a fractional part, got 2.5",
        ),
        ({"quotas": {"": 1}}, "quotas: quota names must be non-empty strings, got {'': 1}"),
        (
            {"read_rate_limit": 5},
            "read_rate_limit: input should be a valid dictionary or instance of RateLimit, got 5",
        ),
        (
            {"write_rate_limit": {"qps": 1, "bursts": 2}},
            "write_rate_limit.bursts: unknown key; known: burst, qps",
        ),
        ({"read_rate_limit": {"qps": 0}}, "read_rate_limit.qps: input should be greater than 0, got 0"),
        (
            {"write_rate_limit": {"burst": 0}},
            "write_rate_limit.burst: input should be greater than or equal to 1, got 0",
        ),
        (
            {"read_rate_limit": {"qps": "fast"}},
            "read_rate_limit.qps: input should be a valid number, unable to parse string as a number, got 'fast'",
        ),
        ({"resync_interval": 0}, "resync_interval: input should be greater than 0, got 0"),
        ({"workers": 0}, "workers: input should be greater than or equal to 1, got 0"),
        (
            {"max_system_failures": -1},
            "max_system_failures: input should be greater than or equal to 0, got -1",
        ),
    ],
)
def test_bad_sections_name_the_key_and_what_was_expected(section: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        parse(section)
    assert str(raised.value) == f"{WHERE}.{message}"
