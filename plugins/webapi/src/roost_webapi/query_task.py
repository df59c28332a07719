"""What BigQuery and Snowflake tasks share on the SDK side: a SQL template with typed inputs, run by the engine.

A query task has no Python function and no container: its ``TaskTemplate`` carries the query in ``sql`` and
the service's settings in ``custom`` (BigQuery) or ``config`` (Snowflake), exactly as flytekit's plugins
serialize them, and an engine handler submits it to the service.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from typing import Any, ClassVar, Generic, TypeVar

from flyteidl.core import tasks_pb2

from roost.errors import WorkflowDefinitionError
from roost.interface import Interface
from roost.options import Cache, as_cache, as_timeout
from roost.tasks import Task, TaskOptions

__all__ = ["QueryTask", "normalize_query"]

C = TypeVar("C")

OUTPUT = "results"
"""The name of a query task's one output, as flytekit names it."""

_GO_TEMPLATE = re.compile(r"\{\{\s*[.$]inputs\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*\}\}", re.IGNORECASE)
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`")


def normalize_query(query_template: str) -> str:
    """The query as flytekit stores it: every run of whitespace one space, trimmed."""
    return re.sub(r"\s+", " ", query_template.replace("\n", " ").replace("\t", " ")).strip()


def template_references(query: str) -> list[str]:
    """Names of inputs the query uses as ``{{ .inputs.name }}``."""
    return [m.group("name") for m in _GO_TEMPLATE.finditer(query)]


def unquoted(query: str) -> str:
    """The query with its quoted strings and identifiers blanked, to look for parameters outside them."""
    return _QUOTED.sub(lambda m: " " * len(m.group(0)), query)


class QueryTask(Task, Generic[C]):
    """A SQL query task: ``name``, ``query_template``, ``task_config``, typed ``inputs``, one optional
    StructuredDataset output named ``results``. Subclasses say how parameters look (:meth:`parameters`)."""

    task_type: ClassVar[str] = ""
    kind_name: ClassVar[str] = "QueryTask"

    def __init__(
        self,
        name: str,
        query_template: str,
        task_config: C,
        config_type: type[C],
        inputs: Mapping[str, Any] | None,
        output_type: Any,
        *,
        retries: int = 0,
        timeout: datetime.timedelta | int | float | None = None,
        interruptible: bool | None = None,
        cache: bool | Cache = False,
        cache_version: str | None = None,
        docs: str = "",
    ) -> None:
        label = f"{self.kind_name} {name!r}"
        if not isinstance(name, str) or not name:
            raise WorkflowDefinitionError(f"{self.kind_name}: name must be a non-empty string, not {name!r}")
        if not isinstance(query_template, str) or not query_template.strip():
            raise WorkflowDefinitionError(f"{label}: query_template must be a non-empty string")
        if not isinstance(task_config, config_type):
            raise WorkflowDefinitionError(
                f"{label}: task_config must be a {config_type.__name__}, not {type(task_config).__name__}"
            )
        if retries < 0:
            raise WorkflowDefinitionError(f"{label}: retries must be 0 or more, not {retries}")
        declared = dict(inputs or {})
        for key in declared:
            if not isinstance(key, str) or not key.isidentifier():
                raise WorkflowDefinitionError(f"{label}: input names must be identifiers, not {key!r}")
        query = normalize_query(query_template)
        used = [*template_references(query), *self.parameters(unquoted(query))]
        unknown = sorted({n for n in used if n not in declared})
        if unknown:
            raise WorkflowDefinitionError(
                f"{label}: the query uses {', '.join(repr(n) for n in unknown)}, which "
                f"{'is not a declared input' if len(unknown) == 1 else 'are not declared inputs'}"
                f" (inputs: {', '.join(declared) or 'none'}); query: {query}"
            )
        outputs = {OUTPUT: output_type} if output_type is not None else {}
        options = TaskOptions(
            cache=as_cache(cache, cache_version, task=name),
            retries=retries,
            timeout=as_timeout(timeout, task=name),
            interruptible=interruptible,
            docs=docs,
        )
        super().__init__(name, Interface(inputs=declared, outputs=outputs), options, task_config)
        self.query_template = query
        self.__doc__ = docs or None

    @property
    def label(self) -> str:
        """``BigQueryTask 'name'`` for messages."""
        return f"{self.kind_name} {self.name!r}"

    def parameters(self, query: str) -> list[str]:
        """Names of the parameters the query (quoted parts blanked) refers to."""
        return []

    def local_call(self, *args: Any, **kwargs: Any) -> Any:
        """Run the query through the engine's handler for this task type, as ``roost run`` does."""
        from roost.local.runner import run_entity

        return run_entity(self, self.bind_arguments(args, kwargs))

    def template(self, settings: Any) -> tasks_pb2.TaskTemplate:
        """The template flytekit writes: the query in ``sql`` (dialect 0, what flytekit sends), no container."""
        template = super().template(settings)
        template.ClearField("container")
        template.sql.CopyFrom(tasks_pb2.Sql(statement=self.query_template, dialect=0))
        return template
