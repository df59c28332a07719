"""Shared pieces of the tests: templates made by the SDK side, and literals."""

from __future__ import annotations

from flyteidl.core import literals_pb2, tasks_pb2

from roost.extend import check_task_template
from roost_duckdb_sql import DuckDBSQLTask


def template_of(task: DuckDBSQLTask) -> tasks_pb2.TaskTemplate:
    """The task's TaskTemplate, as registration makes it (checked by the SDK's test kit on the way)."""
    return check_task_template(task)


def primitive(**value: object) -> literals_pb2.Literal:
    """A primitive literal: ``primitive(float_value=2.5)``."""
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(**value)))
