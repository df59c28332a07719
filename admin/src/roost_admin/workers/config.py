"""The engine configuration of the admin's workers, from the ``engine`` section of the settings.

The section holds ``roost_core.engine.EngineConfig`` keys, the shared sections the installed handlers read,
and one section per handler. In a YAML settings file::

    engine:
      poll_interval: 5              # longest wait between rounds of an execution nothing woke (seconds)
      default_for_task_types:       # which handler runs a task type, where the default is not wanted
        python-task: k8s-pod
      task_environment:             # what every handler that starts task code gives it
        env: {PYTHONPATH: /srv/code}
      kubernetes: {...}             # read by every Kubernetes handler (roost-k8s-pod)
      handlers:
        local-process:
          image_environments:       # container image -> a local Python environment (virtualenv, conda)
            cr.flyte.org/flyteorg/flytekit:py3.11-1.16.31: /opt/venvs/flytekit
            ghcr.io/acme/train:2.1: /opt/venvs/train

or as environment variables: ``ROOST_ENGINE__POLL_INTERVAL=2``,
``ROOST_ENGINE__HANDLERS__LOCAL-PROCESS__KILL_GRACE_PERIOD=5``. Every key is checked when the workers start
(``roost start``, ``roost engine``): an unknown key or handler, or a value of the wrong type, fails the start
with the settings file, the key path and what was expected.

Task code does not inherit the admin's own configuration and database credentials: the variables matching
``WITHHELD_VARIABLES`` (``ROOST_*``, which hold the database URL, storage options and any signing key, and
libpq's ``PG*``) are added to ``task_environment.drop_env``. What a task needs is added to
``task_environment.env`` (configured values win), as Flyte's sandbox tells every pod: how to reach the blob
store (S3 endpoint and credentials, :func:`storage_environment`) and the admin (its gRPC endpoint,
:func:`admin_environment`), so flytekit's eager workflows, tasks that use FlyteRemote, and Roost tasks using
its remote client work from inside a task, whichever handler runs it (local processes, pods).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from roost_core.engine import EngineConfig
from roost_core.errors import ConfigurationError, SettingsError

DEFAULT_POLL_INTERVAL = 5.0
"""The admin's default for ``EngineConfig.poll_interval``: handlers, child executions and signals wake
executions when something changes, so the poll is only a safety net, and each round writes the state."""


WITHHELD_VARIABLES = ("ROOST_*", "PG*")
"""Variables of the admin's environment that task processes never inherit (``drop_env`` patterns)."""

_S3_VARIABLES = {
    "endpoint_url": ("FLYTE_AWS_ENDPOINT",),
    "access_key_id": ("FLYTE_AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"),
    "secret_access_key": ("FLYTE_AWS_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"),
    "region": ("AWS_DEFAULT_REGION",),
}
"""The admin's S3 options, and the variables flytekit's and Roost's task entrypoints read them from."""


def admin_environment(endpoint: str, *, insecure: bool) -> dict[str, str]:
    """Environment variables that tell a task process where the admin's gRPC endpoint is (``host:port``):
    flytekit's (``FLYTE_PLATFORM_URL``, ``FLYTE_PLATFORM_INSECURE``) and Roost's client's (``ROOST_ENDPOINT``,
    ``ROOST_INSECURE``)."""
    return {
        "FLYTE_PLATFORM_URL": endpoint,
        "FLYTE_PLATFORM_INSECURE": str(insecure),
        "ROOST_ENDPOINT": endpoint,
        "ROOST_INSECURE": str(insecure).lower(),
    }


def storage_environment(storage_options: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Environment variables that let a task process reach the blob store the admin uses (its S3 endpoint
    and credentials), the way Flyte's sandbox hands them to every pod."""
    s3 = storage_options.get("s3") or {}
    return {
        name: str(s3[option]) for option, names in _S3_VARIABLES.items() if s3.get(option) for name in names
    }


TASK_ENVIRONMENT = "task_environment"
LOCAL_PROCESS = "local-process"


def engine_config(
    section: Mapping[str, Any], reach: Mapping[str, str] | None = None, log_dir: Path | None = None
) -> EngineConfig:
    """The engine configuration for the settings' ``engine`` section, with the admin's defaults filled in.

    ``log_dir`` is where the local-process handler keeps logs when its section says neither ``log_dir`` nor
    ``keep_logs``. ``reach`` (:func:`storage_environment`, :func:`admin_environment`) goes under the configured
    ``task_environment.env`` (configured values win) and ``WITHHELD_VARIABLES`` before its ``drop_env``. The
    handler sections are checked when an engine is built from it (:func:`in_settings`).
    """
    data = dict(section)
    shared = data.get(TASK_ENVIRONMENT) or {}
    if not isinstance(shared, Mapping):
        raise SettingsError([f"engine.{TASK_ENVIRONMENT}: expected a mapping of settings, got {shared!r}"])
    shared = dict(shared)
    env = shared.get("env") or {}
    dropped = shared.get("drop_env") or []
    if isinstance(env, Mapping):
        shared["env"] = {**(reach or {}), **env}
    if isinstance(dropped, list | tuple):
        shared["drop_env"] = [*WITHHELD_VARIABLES, *dropped]
    data[TASK_ENVIRONMENT] = shared
    data.setdefault("poll_interval", DEFAULT_POLL_INTERVAL)
    handlers = data.get("handlers") or {}
    if log_dir is not None and isinstance(handlers, Mapping):
        local = handlers.get(LOCAL_PROCESS) or {}
        if isinstance(local, Mapping) and "log_dir" not in local and "keep_logs" not in local:
            # ended attempts' logs outlive their work folders, so the console can show a failed node's logs
            data["handlers"] = {**handlers, LOCAL_PROCESS: {**local, "log_dir": str(log_dir)}}
    return EngineConfig.from_mapping(data)


def prune_task_logs(log_dir: Path, days: float, now: float | None = None) -> int:
    """Remove the attempts' log folders under ``log_dir`` not written to for ``days``; how many went."""
    if not log_dir.is_dir():
        return 0
    cutoff = (time.time() if now is None else now) - days * 86_400
    removed = 0
    for folder in log_dir.iterdir():
        try:
            # a running attempt's folder is old but its log files are fresh
            if folder.is_dir() and max(p.stat().st_mtime for p in (folder, *folder.iterdir())) < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        except FileNotFoundError:  # removed meanwhile by another process sharing the data folder
            continue
    return removed


def in_settings(exc: ConfigurationError, config_file: str | None) -> ConfigurationError:
    """``exc`` naming the settings file the configuration came from (``--config``, ``$ROOST_CONFIG``), if any."""
    if config_file is None:
        return exc
    return ConfigurationError(f"{config_file}: {exc}")
