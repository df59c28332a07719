"""Where the engine finds the services' credentials: an environment variable or a file per secret.

A secret named ``snowflake_password`` is read from the environment variable ``<env_prefix>SNOWFLAKE_PASSWORD``
(``ROOST_SECRET_SNOWFLAKE_PASSWORD`` by default), else from the file ``<folder>/snowflake_password`` when a
folder is configured (a mounted Kubernetes secret, say). Values never go into task templates, events, logs or
the database: handlers read them when they open a connection, and messages name the secret, not its value.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from roost_core.errors import ConfigurationError

__all__ = ["MissingSecretError", "SecretSettings", "read_secret"]


class MissingSecretError(ConfigurationError):
    """A secret the configuration names is neither in the environment nor in the secrets folder."""


class SecretSettings(BaseModel):
    """How a handler's secrets are found (the ``secrets`` key of its settings)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env_prefix: str = "ROOST_SECRET_"
    """Prefix of the environment variable holding a secret; its name follows in upper case."""
    folder: str = ""
    """A folder holding one file per secret, named after the secret (read when the variable is not set)."""


def read_secret(name: str, settings: SecretSettings) -> str:
    """The secret's value; :class:`MissingSecretError` naming where it was looked for."""
    variable = settings.env_prefix + name.upper()
    value = os.environ.get(variable)
    if value is not None:
        return value
    places = [f"environment variable {variable}"]
    if settings.folder:
        path = Path(settings.folder) / name
        if path.is_file():
            return path.read_text().strip()
        places.append(f"file {path}")
    raise MissingSecretError(f"secret {name!r} not found (looked in the {' and the '.join(places)})")
