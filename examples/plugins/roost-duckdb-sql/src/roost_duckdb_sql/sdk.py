"""The SDK side of roost-duckdb-sql (entry point ``roost.sdk``).

``DuckdbSqlTask`` is a task class of its own (it takes its ``DuckdbSqlConfig`` directly), so it registers no
``task_config`` for ``@task``; a plugin whose tasks are Python functions registers its config class and task
class here with ``roost_task_types``. Importing this module stays light.
"""

from __future__ import annotations

from roost.extend import RegisterTaskType, hookimpl


@hookimpl
def roost_task_types(register: RegisterTaskType) -> None:
    """Nothing to register for ``@task``: ``DuckdbSqlTask`` is used directly."""
