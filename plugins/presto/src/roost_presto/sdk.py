"""The SDK side of roost-presto (entry point ``roost.sdk``): ``TrinoTask`` and ``PrestoTask``.

A query task has no Python function: its template (task type ``presto``) carries flyteidl's ``PrestoQuery``
in ``custom`` (``routingGroup``, ``catalog``, ``schema``, ``statement``, as protobuf JSON), and the engine's
presto handler runs the statement on the coordinator, binding the task's inputs as query parameters, and
stores the result as a parquet structured dataset, output ``results``. Loading this module imports neither
the ``trino`` client nor pyarrow.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from flyteidl.core import tasks_pb2

from roost.errors import WorkflowDefinitionError
from roost.extend import Interface, SerializationSettings, StructuredDataset, Task, TaskOptions
from roost.options import Cache, as_cache, as_timeout
from roost_presto.query import TemplateError, parse_template

__all__ = ["OUTPUT", "TASK_TYPE", "PrestoTask", "TrinoTask"]

TASK_TYPE = "presto"
"""The task type of Presto and Trino queries, as Flyte names it."""
OUTPUT = "results"
"""The output holding the query's result."""


class TrinoTask(Task):
    """A Trino query with typed inputs, whose result is a structured dataset (output ``results``)::

        trips = TrinoTask(
            name="daily_trips",
            query_template="SELECT * FROM trips WHERE ds = {{ .inputs.ds }} LIMIT {{ .inputs.limit }}",
            inputs={"ds": str, "limit": int},
            catalog="hive",
            schema="rides",
        )

    Each ``{{ .inputs.name }}`` becomes a query parameter that the trino client binds (``EXECUTE IMMEDIATE
    ... USING``), so a value is never pasted into the SQL text; write it where a value stands, without quotes.
    A reference to an input the task does not declare is an error here, when the task is defined.
    ``routing_group`` picks a cluster behind a Trino gateway. ``output_structured_dataset_type`` declares the
    result's type, e.g. ``Annotated[pd.DataFrame, {"id": int}]``; downstream tasks read it as pandas or
    pyarrow. Runs locally (``roost run``, calling it) through the engine's presto handler in this process.
    """

    task_type = TASK_TYPE
    kind = "Trino query"

    def __init__(
        self,
        name: str,
        query_template: str,
        *,
        inputs: Mapping[str, Any] | None = None,
        catalog: str = "",
        schema: str = "",
        routing_group: str = "",
        output_structured_dataset_type: Any = StructuredDataset,
        retries: int = 0,
        timeout: datetime.timedelta | int | float | None = None,
        cache: bool | Cache = False,
        cache_version: str | None = None,
        docs: str = "",
    ) -> None:
        label = f"{self.kind} {name!r}"
        if not isinstance(name, str) or not name:
            raise WorkflowDefinitionError(
                f"{type(self).__name__}: name must be a non-empty string, not {name!r}"
            )
        if not isinstance(query_template, str) or not query_template.strip():
            raise WorkflowDefinitionError(f"{label}: query_template must be a non-empty string")
        for option, value in (("catalog", catalog), ("schema", schema), ("routing_group", routing_group)):
            if not isinstance(value, str):
                raise WorkflowDefinitionError(f"{label}: {option} must be a string, not {value!r}")
        if retries < 0:
            raise WorkflowDefinitionError(f"{label}: retries must be 0 or more, not {retries}")
        declared = dict(inputs or {})
        for input_name in declared:
            if not isinstance(input_name, str) or not input_name.isidentifier():
                raise WorkflowDefinitionError(f"{label}: input name {input_name!r} is not an identifier")
        try:
            parse_template(query_template, declared)
        except TemplateError as exc:
            raise WorkflowDefinitionError(f"{label}: query_template: {exc}") from None
        self.query_template = query_template
        self.catalog = catalog
        self.schema = schema
        self.routing_group = routing_group
        options = TaskOptions(
            cache=as_cache(cache, cache_version, task=name),
            retries=retries,
            timeout=as_timeout(timeout, task=name),
            docs=docs,
        )
        interface = Interface(inputs=declared, outputs={OUTPUT: output_structured_dataset_type})
        super().__init__(name, interface, options)
        self.interface.typed()  # every type must convert: fail here, naming the task, not at registration
        self.__doc__ = docs or None

    @property
    def label(self) -> str:
        """``Trino query 'name'`` for messages."""
        return f"{self.kind} {self.name!r}"

    def custom(self, settings: SerializationSettings) -> dict[str, Any]:
        """flyteidl's ``PrestoQuery`` as protobuf JSON: what Flyte's presto plugin reads."""
        custom: dict[str, Any] = {}
        for key, value in (
            ("routingGroup", self.routing_group),
            ("catalog", self.catalog),
            ("schema", self.schema),
            ("statement", self.query_template),
        ):
            if value:  # protobuf JSON leaves out fields at their default
                custom[key] = value
        return custom

    def local_call(self, *args: Any, **kwargs: Any) -> Any:
        """Run the query here, through the engine's presto handler (as ``roost run`` does)."""
        from roost.local.runner import run_entity

        return run_entity(self, self.bind_arguments(args, kwargs))

    def template(self, settings: SerializationSettings) -> tasks_pb2.TaskTemplate:
        """A ``presto`` task: no container, the query in ``custom``."""
        template = super().template(settings)
        template.ClearField("container")
        return template


class PrestoTask(TrinoTask):
    """A Presto query: the same task as :class:`TrinoTask` (Trino speaks Presto's protocol, and Flyte runs both
    as task type ``presto``), under the name Presto users know."""

    kind = "Presto query"
