"""``SnowflakeTask`` and ``SnowflakeConfig``: flytekitplugins-snowflake's names, arguments and encoding."""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from roost.options import Cache
from roost_webapi.query_task import QueryTask

__all__ = ["TASK_TYPE", "SnowflakeConfig", "SnowflakeTask"]

TASK_TYPE = "snowflake"
"""The task type flytekit gives Snowflake tasks."""

_PARAMETER = re.compile(r"%\((?P<name>[^)]*)\)s")


@dataclass
class SnowflakeConfig:
    """Where a Snowflake task's query runs. Credentials are not here: the engine holds them."""

    user: str
    account: str
    database: str
    schema: str
    warehouse: str


class SnowflakeTask(QueryTask[SnowflakeConfig]):
    """A Snowflake query with typed inputs, bound by the Snowflake connector (``%(name)s``)::

        top = SnowflakeTask(
            name="top",
            query_template="SELECT * FROM orders WHERE amount > %(minimum)s",
            task_config=SnowflakeConfig(account="acme-eu", database="SALES", schema="PUBLIC",
                                        warehouse="COMPUTE_WH", user="ROOST"),
            inputs={"minimum": float},
            output_schema_type=StructuredDataset,
        )

    The engine runs it asynchronously with snowflake-connector-python and returns its result as the
    ``results`` StructuredDataset (parquet in the blob store).
    """

    task_type = TASK_TYPE
    kind_name = "SnowflakeTask"

    def __init__(
        self,
        name: str,
        query_template: str,
        task_config: SnowflakeConfig,
        inputs: Mapping[str, Any] | None = None,
        output_schema_type: Any = None,
        *,
        retries: int = 0,
        timeout: datetime.timedelta | int | float | None = None,
        interruptible: bool | None = None,
        cache: bool | Cache = False,
        cache_version: str | None = None,
        docs: str = "",
    ) -> None:
        if isinstance(task_config, SnowflakeConfig):
            for field in fields(SnowflakeConfig):
                value = getattr(task_config, field.name)
                if not isinstance(value, str) or not value:
                    from roost.errors import WorkflowDefinitionError

                    raise WorkflowDefinitionError(
                        f"SnowflakeTask {name!r}: SnowflakeConfig.{field.name} must be a non-empty string, "
                        f"not {value!r}"
                    )
        super().__init__(
            name,
            query_template,
            task_config,
            SnowflakeConfig,
            inputs,
            output_schema_type,
            retries=retries,
            timeout=timeout,
            interruptible=interruptible,
            cache=cache,
            cache_version=cache_version,
            docs=docs,
        )

    def parameters(self, query: str) -> list[str]:
        """``%(name)s`` parameters."""
        return [m.group("name") for m in _PARAMETER.finditer(query)]

    def config(self, settings: Any) -> dict[str, str]:
        """``user``, ``account``, ``database``, ``schema``, ``warehouse`` in ``TaskTemplate.config``, as flytekit."""
        return {f.name: getattr(self.task_config, f.name) for f in fields(SnowflakeConfig)}
