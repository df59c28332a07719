"""``BigQueryTask`` and ``BigQueryConfig``: flytekitplugins-bigquery's names, arguments and encoding."""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from roost.options import Cache
from roost_webapi.query_task import QueryTask

__all__ = ["TASK_TYPE", "BigQueryConfig", "BigQueryTask"]

TASK_TYPE = "bigquery_query_job_task"
"""The task type flytekit gives BigQuery tasks."""

_PARAMETER = re.compile(r"(?<![@\w])@(?P<name>[A-Za-z_][A-Za-z0-9_]*)")


@dataclass
class BigQueryConfig:
    """Where a BigQuery task's job runs: ``ProjectID``, ``Location``, and a ``google.cloud.bigquery.QueryJobConfig``
    whose query settings (priority, caching, bytes billed...) go with the task."""

    ProjectID: str
    Location: str | None = None
    QueryJobConfig: Any = None
    """A ``google.cloud.bigquery.QueryJobConfig``, or None."""


class BigQueryTask(QueryTask[BigQueryConfig]):
    """A BigQuery query with typed inputs, bound as BigQuery query parameters (``@name``)::

        daily = BigQueryTask(
            name="daily",
            query_template="SELECT * FROM sales.orders WHERE day = @ds LIMIT @limit",
            task_config=BigQueryConfig(ProjectID="acme", Location="US"),
            inputs={"ds": str, "limit": int},
            output_structured_dataset_type=StructuredDataset,
        )

    The engine submits the job with google-cloud-bigquery and returns its result as the ``results``
    StructuredDataset (parquet in the blob store).
    """

    task_type = TASK_TYPE
    kind_name = "BigQueryTask"

    def __init__(
        self,
        name: str,
        query_template: str,
        task_config: BigQueryConfig,
        inputs: Mapping[str, Any] | None = None,
        output_structured_dataset_type: Any = None,
        *,
        retries: int = 0,
        timeout: datetime.timedelta | int | float | None = None,
        interruptible: bool | None = None,
        cache: bool | Cache = False,
        cache_version: str | None = None,
        docs: str = "",
    ) -> None:
        if isinstance(task_config, BigQueryConfig) and (
            not isinstance(task_config.ProjectID, str) or not task_config.ProjectID
        ):
            from roost.errors import WorkflowDefinitionError

            raise WorkflowDefinitionError(
                f"BigQueryTask {name!r}: BigQueryConfig.ProjectID must be a non-empty string, "
                f"not {task_config.ProjectID!r}"
            )
        super().__init__(
            name,
            query_template,
            task_config,
            BigQueryConfig,
            inputs,
            output_structured_dataset_type,
            retries=retries,
            timeout=timeout,
            interruptible=interruptible,
            cache=cache,
            cache_version=cache_version,
            docs=docs,
        )

    def parameters(self, query: str) -> list[str]:
        """``@name`` parameters (not ``@@system`` variables)."""
        return [m.group("name") for m in _PARAMETER.finditer(query)]

    def custom(self, settings: Any) -> dict[str, Any]:
        """``Location``, ``ProjectID``, ``Domain`` and the QueryJobConfig's ``query`` settings, as flytekit."""
        config: dict[str, Any] = {
            "Location": self.task_config.Location,
            "ProjectID": self.task_config.ProjectID,
            "Domain": settings.domain,
        }
        job_config = self.task_config.QueryJobConfig
        if job_config is not None:
            config.update(job_config.to_api_repr()["query"])
        return config
