"""The SDK side of roost-webapi (entry point ``roost.sdk``).

``BigQueryTask`` and ``SnowflakeTask`` are classes users instantiate, as in flytekit, not ``@task``
configurations, so there is nothing to register: this module exists so that ``roost plugins`` lists the
package on the SDK side too. The task classes are in :mod:`roost_webapi.bigquery.task` and
:mod:`roost_webapi.snowflake.task`, exported from :mod:`roost_webapi`.
"""

from __future__ import annotations

__all__: list[str] = []
