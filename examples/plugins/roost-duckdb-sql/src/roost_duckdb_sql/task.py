"""The SDK side's task class: ``DuckDBSQLTask`` runs one SQL query in DuckDB, with its scalar inputs bound as
named parameters (``$min_fare``) and its data frame inputs queryable as tables (``from trips``); its output
``results`` is the query's result as a data frame (parquet)."""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flyteidl.core import tasks_pb2, types_pb2

from roost.extend import (
    Interface,
    SerializationSettings,
    StructuredDataset,
    Task,
    TaskOptions,
    WorkflowDefinitionError,
    as_timeout,
    run_locally,
)

TASK_TYPE = "duckdb-sql"
"""The task type of the templates this plugin's tasks make and its handler runs."""

OUTPUT = "results"
"""The name of the task's one output: the query's result."""

PARAMETER_TYPES = {
    types_pb2.SimpleType.INTEGER: "int",
    types_pb2.SimpleType.FLOAT: "float",
    types_pb2.SimpleType.STRING: "str",
    types_pb2.SimpleType.BOOLEAN: "bool",
    types_pb2.SimpleType.DATETIME: "datetime",
}
"""The input types bound as query parameters (by their Flyte simple type); data frames are tables."""


@dataclass(frozen=True)
class DuckDBSQLConfig:
    """The configuration of a ``duckdb-sql`` task, stored in ``TaskTemplate.custom``: the query."""

    query: str

    def custom(self) -> dict[str, Any]:
        """The configuration as ``TaskTemplate.custom`` holds it."""
        return {"query": self.query}


class DuckDBSQLTask(Task):
    """A task of type ``duckdb-sql``: runs ``query`` in DuckDB and returns its result as output ``results`` (a
    :class:`~roost.extend.StructuredDataset`, or the data frame type given as ``output``). It has no Python
    function: the engine's ``duckdb_sql`` handler runs it (in ``roost run`` too, in this process).

    ``inputs`` maps each input's name to its type: ``int``, ``float``, ``str``, ``bool`` and
    ``datetime.datetime`` inputs are bound as named parameters (``$name`` in the query); data frame inputs
    (``pandas.DataFrame``, ``StructuredDataset``, ...) are tables of that name. Every input must be used.
    """

    task_type = TASK_TYPE

    def __init__(
        self,
        name: str,
        query: str,
        *,
        inputs: Mapping[str, Any] | None = None,
        output: Any = StructuredDataset,
        retries: int = 0,
        timeout: datetime.timedelta | int | float | None = None,
    ) -> None:
        if not isinstance(query, str) or not query.strip():
            raise WorkflowDefinitionError(f"DuckDBSQLTask {name!r}: query must be a non-empty SQL string")
        options = TaskOptions(retries=retries, timeout=as_timeout(timeout, task=name))
        interface = Interface(inputs=dict(inputs or {}), outputs={OUTPUT: output})
        typed = interface.typed()
        if not typed.outputs.variables[OUTPUT].type.HasField("structured_dataset_type"):
            raise WorkflowDefinitionError(
                f"DuckDBSQLTask {name!r}: output must be a data frame type (StructuredDataset, "
                f"pandas.DataFrame, ...), not {output!r}"
            )
        for input_name, variable in typed.inputs.variables.items():
            _check_input(name, query, input_name, variable.type)
        super().__init__(name, interface, options, task_config=DuckDBSQLConfig(query))

    def custom(self, settings: SerializationSettings) -> dict[str, Any]:
        """The configuration, for the handler."""
        config: DuckDBSQLConfig = self.task_config
        return config.custom()

    def local_call(self, *args: Any, **kwargs: Any) -> Any:
        """Run the task here, through the engine's handler (as ``roost run`` does)."""
        return run_locally(self, self.bind_arguments(args, kwargs))

    def template(self, settings: SerializationSettings) -> tasks_pb2.TaskTemplate:
        """A ``duckdb-sql`` task: no container, the query in ``custom``."""
        template = super().template(settings)
        template.ClearField("container")
        return template


def _check_input(task: str, query: str, name: str, literal_type: types_pb2.LiteralType) -> None:
    """An input must be a parameter type or a data frame, and the query must use it (a declared input the
    query never mentions is almost always a typo in one of the two)."""
    if literal_type.HasField("structured_dataset_type"):
        if not re.search(rf"(?<![\w$]){re.escape(name)}(?!\w)", query):
            raise WorkflowDefinitionError(
                f"DuckDBSQLTask {task!r}: input {name!r} is a data frame the query never uses: "
                f"query it as the table {name}"
            )
        return
    if literal_type.WhichOneof("type") != "simple" or literal_type.simple not in PARAMETER_TYPES:
        allowed = ", ".join(PARAMETER_TYPES.values())
        raise WorkflowDefinitionError(
            f"DuckDBSQLTask {task!r}: input {name!r} has a type DuckDB cannot take "
            f"({_describe(literal_type)}); inputs are parameters ({allowed}) or data frames"
        )
    if not re.search(rf"\${re.escape(name)}(?!\w)", query):
        raise WorkflowDefinitionError(
            f"DuckDBSQLTask {task!r}: input {name!r} is a parameter the query never uses: "
            f"write ${name} where its value goes"
        )


def _describe(literal_type: types_pb2.LiteralType) -> str:
    kind = literal_type.WhichOneof("type")
    if kind == "simple":
        return str(types_pb2.SimpleType.Name(literal_type.simple)).lower()
    return kind or "no type"
