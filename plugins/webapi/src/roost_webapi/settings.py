"""The handlers' settings: ``engine.handlers.bigquery`` and ``engine.handlers.snowflake``.

Both are remote-job settings (quotas, rate limits, status polling, failure budget) plus where the service is
and how to authenticate. Secrets are named here, never given: see :mod:`roost_webapi.secrets`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from roost_core.remote import RemoteJobSettings
from roost_core.settings import Seconds
from roost_webapi.secrets import SecretSettings

__all__ = ["BigQuerySettings", "SnowflakeSettings"]


class BigQuerySettings(RemoteJobSettings):
    """How the engine reaches BigQuery."""

    endpoint: str = ""
    """The API endpoint (``http://127.0.0.1:9050`` for an emulator); empty for Google's."""
    credentials: Literal["default", "service_account", "anonymous"] = "default"
    """``default``: Application Default Credentials; ``service_account``: a service account key (JSON) read
    from the secret ``service_account_secret``; ``anonymous``: none (emulators)."""
    service_account_secret: str = "bigquery_service_account"
    """The secret holding the service account key when ``credentials`` is ``service_account``."""
    secrets: SecretSettings = SecretSettings()
    """Where secrets are read from."""
    request_timeout: Seconds = Field(default=60.0, gt=0)
    """Seconds one API call may take; a call that takes longer is a failure retried by the machinery."""
    page_size: int = Field(default=50_000, ge=1)
    """Rows fetched per page when the result is read back."""
    resync_interval: Seconds = Field(default=5.0, gt=0)
    """Seconds between two status fetches of one job."""


class SnowflakeSettings(RemoteJobSettings):
    """How the engine reaches Snowflake. The task's ``config`` gives account, user, database, schema and
    warehouse; these settings give the credentials and, for a stand-in or a proxy, the address."""

    host: str = ""
    """The server's host name; empty for ``<account>.snowflakecomputing.com``."""
    port: int = Field(default=443, ge=1, le=65535)
    """The server's port."""
    protocol: Literal["https", "http"] = "https"
    """``http`` only for a local stand-in."""
    authenticator: Literal["password", "key_pair"] = "key_pair"
    """``key_pair`` (a PEM private key, as flytekit's agent) or ``password``."""
    password_secret: str = "snowflake_password"
    """The secret holding the password (``authenticator: password``)."""
    private_key_secret: str = "snowflake_private_key"
    """The secret holding the PEM private key (``authenticator: key_pair``); flytekit's name for it."""
    private_key_passphrase_secret: str = ""
    """The secret holding the key's passphrase, if it is encrypted."""
    secrets: SecretSettings = SecretSettings()
    """Where secrets are read from."""
    login_timeout: Seconds = Field(default=30.0, gt=0)
    """Seconds a login may take."""
    network_timeout: Seconds = Field(default=60.0, gt=0)
    """Seconds one request may take."""
    resync_interval: Seconds = Field(default=5.0, gt=0)
    """Seconds between two status checks of one query."""
