"""RemoteJobConfig: defaults, parsing a configuration section, and the errors for bad sections."""

from __future__ import annotations

from typing import Any

import pytest

from roost_core.errors import ConfigurationError
from roost_core.remote import RateLimit, RemoteJobConfig


def test_defaults() -> None:
    config = RemoteJobConfig.from_mapping({})
    assert config == RemoteJobConfig()
    assert config.quotas == {}
    assert config.read_rate_limit == RateLimit(qps=30.0, burst=300)
    assert config.write_rate_limit == RateLimit(qps=20.0, burst=200)
    assert (config.resync_interval, config.workers, config.max_system_failures) == (30.0, 10, 5)


def test_full_section() -> None:
    config = RemoteJobConfig.from_mapping(
        {
            "quotas": {"adhoc": 20, "etl": 5},
            "read_rate_limit": {"qps": 5, "burst": 10},
            "write_rate_limit": {"qps": 0.5},
            "resync_interval": 2,
            "workers": 4,
            "max_system_failures": 0,
        }
    )
    assert config.quotas == {"adhoc": 20, "etl": 5}
    assert config.read_rate_limit == RateLimit(5.0, 10)
    assert config.write_rate_limit == RateLimit(0.5, 200), "an omitted burst keeps its default"
    assert (config.resync_interval, config.workers, config.max_system_failures) == (2.0, 4, 0)


def test_plugin_keys_are_left_to_the_plugin() -> None:
    config = RemoteJobConfig.from_mapping(
        {"endpoint": "https://trino", "workers": 2}, plugin_keys={"endpoint"}
    )
    assert config.workers == 2


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            {"quota": {"a": 1}},
            "unknown setting(s) 'quota'; known: max_system_failures, quotas, read_rate_limit, "
            "resync_interval, workers, write_rate_limit",
        ),
        ({"quotas": ["adhoc"]}, "quotas must be a mapping of quota name to limit, got ['adhoc']"),
        ({"quotas": {"adhoc": 0}}, "quota 'adhoc' must be a whole number of at least 1, got 0"),
        ({"quotas": {"adhoc": 2.5}}, "quota 'adhoc' must be a whole number of at least 1, got 2.5"),
        ({"quotas": {"": 1}}, "quota names must be non-empty strings, got ''"),
        ({"read_rate_limit": 5}, "read_rate_limit must be a mapping with 'qps' and 'burst', got 5"),
        (
            {"write_rate_limit": {"qps": 1, "bursts": 2}},
            "write_rate_limit must be a mapping with 'qps' and 'burst', got {'qps': 1, 'bursts': 2}",
        ),
        ({"read_rate_limit": {"qps": 0}}, "read_rate_limit: rate limit qps must be positive, got 0.0"),
        ({"write_rate_limit": {"burst": 0}}, "write_rate_limit: rate limit burst must be at least 1, got 0"),
        ({"read_rate_limit": {"qps": "fast"}}, "read_rate_limit.qps must be a number, got 'fast'"),
        ({"resync_interval": "30s"}, "resync_interval must be a number, got '30s'"),
        ({"resync_interval": 0}, "resync_interval must be a positive number of seconds, got 0.0"),
        ({"workers": 0}, "workers must be at least 1, got 0"),
        ({"workers": True}, "workers must be a whole number, got True"),
        ({"max_system_failures": -1}, "max_system_failures must be 0 or more, got -1"),
    ],
)
def test_bad_sections_name_the_handler_and_setting(section: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        RemoteJobConfig.from_mapping(section, where="handler 'trino'")
    assert str(raised.value) == f"handler 'trino': {message}"
