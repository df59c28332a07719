"""Roost query tasks on web APIs: BigQuery and Snowflake, run by the engine on the remote-job machinery.

Public names (imported on first use, so ``import roost_webapi`` loads nothing heavy):

* :class:`BigQueryTask`, :class:`BigQueryConfig`: flytekitplugins-bigquery's task and configuration;
* :class:`SnowflakeTask`, :class:`SnowflakeConfig`: flytekitplugins-snowflake's;
* :class:`BigQuerySettings`, :class:`SnowflakeSettings`, :class:`SecretSettings`: the handlers' settings
  (``engine.handlers.bigquery`` / ``engine.handlers.snowflake``).

The handlers are in :mod:`roost_webapi.bigquery.handler` and :mod:`roost_webapi.snowflake.handler`; stand-ins
for tests are in :mod:`roost_webapi.testing`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from roost_core.lazy import lazy_exports

if TYPE_CHECKING:
    from roost_webapi.bigquery.task import BigQueryConfig, BigQueryTask
    from roost_webapi.secrets import SecretSettings
    from roost_webapi.settings import BigQuerySettings, SnowflakeSettings
    from roost_webapi.snowflake.task import SnowflakeConfig, SnowflakeTask

__all__ = [
    "BigQueryConfig",
    "BigQuerySettings",
    "BigQueryTask",
    "SecretSettings",
    "SnowflakeConfig",
    "SnowflakeSettings",
    "SnowflakeTask",
]

_EXPORTS = {
    "BigQueryConfig": "roost_webapi.bigquery.task",
    "BigQueryTask": "roost_webapi.bigquery.task",
    "SnowflakeConfig": "roost_webapi.snowflake.task",
    "SnowflakeTask": "roost_webapi.snowflake.task",
    "BigQuerySettings": "roost_webapi.settings",
    "SnowflakeSettings": "roost_webapi.settings",
    "SecretSettings": "roost_webapi.secrets",
}


__getattr__ = lazy_exports(__name__, _EXPORTS)
