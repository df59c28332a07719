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


def engine_config(section: Mapping[str, Any]) -> EngineConfig:
    """The engine configuration for the settings' ``engine`` section, with the admin's defaults filled in.

    An unknown key or a malformed ``local-process`` section raises ConfigurationError naming it. (A task type
    mapped to a handler that is not installed is reported when the workers start.)
    """
    data = dict(section)
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
