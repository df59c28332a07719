"""The engine side of roost-webapi (entry point ``roost.engine``): the BigQuery and Snowflake handlers.

Each is the default for the task type it introduces (``bigquery_query_job_task``, ``snowflake``). Registering
imports neither client library nor the settings classes; an engine imports them when it builds a handler, so
the package installs with either extra alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from roost_core.handler import TaskHandler
from roost_core.plugins.hookspecs import RegisterHandler, hookimpl

if TYPE_CHECKING:
    from roost_webapi.settings import BigQuerySettings, SnowflakeSettings

__all__ = ["roost_task_handlers"]


def bigquery_handler(settings: BigQuerySettings) -> TaskHandler:
    """The BigQuery handler, built with its settings (needs the ``[bigquery]`` extra)."""
    from roost_webapi.bigquery.handler import bigquery_handler as build

    return build(settings)


def snowflake_handler(settings: SnowflakeSettings) -> TaskHandler:
    """The Snowflake handler, built with its settings (needs the ``[snowflake]`` extra)."""
    from roost_webapi.snowflake.handler import snowflake_handler as build

    return build(settings)


@hookimpl
def roost_task_handlers(register: RegisterHandler) -> None:
    """``bigquery`` for ``bigquery_query_job_task``, ``snowflake`` for ``snowflake``."""
    register(
        "bigquery",
        bigquery_handler,
        task_types=["bigquery_query_job_task"],
        default=True,
        settings="roost_webapi.settings:BigQuerySettings",
    )
    register(
        "snowflake",
        snowflake_handler,
        task_types=["snowflake"],
        default=True,
        settings="roost_webapi.settings:SnowflakeSettings",
    )
