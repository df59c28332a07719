"""The engine configuration of the admin's workers, from the ``engine`` section of the settings.

The section holds ``roost_core.engine.EngineConfig`` keys. In a YAML settings file::

    engine:
      poll_interval: 5              # longest wait between rounds of an execution nothing woke (seconds)
      default_for_task_types:       # which handler runs a task type, where several could
        python-task: local-process
        pod: k8s-pod
      handlers:
        local-process:
          env: {PYTHONPATH: /srv/code}
          image_environments:       # container image -> a local Python environment (virtualenv, conda)
            cr.flyte.org/flyteorg/flytekit:py3.11-1.16.31: /opt/venvs/flytekit
            ghcr.io/acme/train:2.1: /opt/venvs/train

or as environment variables: ``ROOST_ENGINE__POLL_INTERVAL=2``,
``ROOST_ENGINE__HANDLERS__LOCAL-PROCESS__KILL_GRACE_PERIOD=5``.

Unless configured otherwise, ``python-task``, ``container`` and ``raw-container`` tasks run as local processes
(``local-process``), even when another installed plugin (the Kubernetes pod plugin) serves those types too.
Tasks whose image ``image_environments`` lists run with that environment's interpreter first on ``PATH``;
other tasks run with the admin's own Python environment.

Local task processes do not inherit the admin's own configuration and database credentials: the variables
matching ``WITHHELD_VARIABLES`` (``ROOST_*``, which hold the database URL, storage options and any signing key,
and libpq's ``PG*``) are dropped from their environment, on top of any ``drop_env`` the section lists. What a task
needs is given to it explicitly, as Flyte's sandbox tells every pod: how to reach the blob store (S3 endpoint and
credentials, :func:`storage_environment`) and the admin (its gRPC endpoint, :func:`admin_environment`), so
flytekit's eager workflows, tasks that use FlyteRemote, and Roost tasks using its remote client work from inside
a task.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from roost_core.engine import EngineConfig
from roost_core.errors import ConfigurationError
from roost_core.handlers.local_process import LocalProcessSettings

DEFAULT_TASK_HANDLERS = {
    "python-task": "local-process",
    "container": "local-process",
    "raw-container": "local-process",
}
"""Task type → handler, where the settings do not say."""

DEFAULT_POLL_INTERVAL = 5.0
"""The admin's default for ``EngineConfig.poll_interval``: handlers, child executions and signals wake
executions when something changes, so the poll is only a safety net, and each round writes the state."""


WITHHELD_VARIABLES = ("ROOST_*", "PG*")
"""Variables of the admin's environment that local task processes never inherit (``drop_env`` patterns)."""

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


def engine_config(section: Mapping[str, Any], reach: Mapping[str, str] | None = None) -> EngineConfig:
    """The engine configuration for the settings' ``engine`` section, with the admin's defaults filled in.

    Local task processes get ``reach`` (:func:`storage_environment`, :func:`admin_environment`) under the
    ``env`` the section configures for ``local-process`` (configured values win), and never inherit
    ``WITHHELD_VARIABLES``. An unknown key or a malformed ``local-process`` section raises ConfigurationError
    naming it. (A task type mapped to a handler that is not installed is reported when the workers start.)
    """
    data = dict(section)
    handlers = data.get("handlers") or {}
    if isinstance(handlers, Mapping):
        process = dict(handlers.get("local-process") or {})
        if reach:
            process["env"] = {**reach, **(process.get("env") or {})}
        dropped = process.get("drop_env") or []
        if isinstance(dropped, list | tuple):
            process["drop_env"] = [*WITHHELD_VARIABLES, *dropped]
        data["handlers"] = {**handlers, "local-process": process}
    chosen = data.get("default_for_task_types") or {}
    if not isinstance(chosen, Mapping):
        raise ConfigurationError(
            f"engine.default_for_task_types must map task types to handlers, not {chosen!r}"
        )
    data["default_for_task_types"] = {**DEFAULT_TASK_HANDLERS, **chosen}
    data.setdefault("poll_interval", DEFAULT_POLL_INTERVAL)
    config = EngineConfig.from_mapping(data)
    if not isinstance(config.handlers, Mapping):
        raise ConfigurationError(
            f"engine.handlers must map handler names to sections, not {config.handlers!r}"
        )
    local = config.handlers.get("local-process")
    if local is not None:
        # Checked now, so a typo fails `roost start` instead of every task later.
        LocalProcessSettings.from_config(local)
    return config
