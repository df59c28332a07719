"""A query's result as the task's ``results`` output: parquet in the blob store, a StructuredDataset literal.

The layout is flytekit's: a folder holding one parquet file named ``00000``, so pandas, pyarrow and flytekit
tasks downstream read it as any other StructuredDataset.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flyteidl.core import literals_pb2, types_pb2

from roost_core.handler import TaskContext
from roost_core.storage import Storage

if TYPE_CHECKING:
    import pyarrow  # type: ignore[import-untyped]

__all__ = ["ResultTypeError", "write_results"]

OUTPUT = "results"


class ResultTypeError(ValueError):
    """The result's columns cannot be converted to the types the task's output declares."""


def declared_type(ctx: TaskContext) -> types_pb2.StructuredDatasetType | None:
    """The StructuredDataset type of the ``results`` output, or None when the task declares none."""
    variables = ctx.task.interface.outputs.variables
    if OUTPUT not in variables:
        return None
    return variables[OUTPUT].type.structured_dataset_type


def write_results(ctx: TaskContext, batches: Iterable[pyarrow.RecordBatch], schema: pyarrow.Schema) -> None:
    """Write the result into ``raw_output_prefix`` and the outputs (``results``, or none) for the attempt."""
    dataset_type = declared_type(ctx)
    outputs = literals_pb2.LiteralMap()
    if dataset_type is None:
        ctx.write_outputs(outputs)
        return
    import pyarrow
    import pyarrow.parquet  # type: ignore[import-untyped]

    target = _target_schema(schema, dataset_type)
    buffer = io.BytesIO()
    with pyarrow.parquet.ParquetWriter(buffer, target) as writer:
        for batch in batches:
            writer.write_table(_convert(pyarrow.Table.from_batches([batch], schema=batch.schema), target))
    folder = Storage.join(ctx.raw_output_prefix, f"{_attempt_name(ctx)}-results")
    ctx.storage.write(Storage.join(folder, "00000"), buffer.getvalue())
    literal_type = types_pb2.StructuredDatasetType()
    literal_type.CopyFrom(dataset_type)
    literal_type.format = "parquet"
    outputs.literals[OUTPUT].scalar.structured_dataset.CopyFrom(
        literals_pb2.StructuredDataset(
            uri=folder,
            metadata=literals_pb2.StructuredDatasetMetadata(structured_dataset_type=literal_type),
        )
    )
    ctx.write_outputs(outputs)


def _attempt_name(ctx: TaskContext) -> str:
    from roost_core.remote import attempt_job_id

    return attempt_job_id(ctx.task_execution_id)


_SIMPLE: dict[int, str] = {
    types_pb2.INTEGER: "int64",
    types_pb2.FLOAT: "float64",
    types_pb2.STRING: "string",
    types_pb2.BOOLEAN: "bool",
    types_pb2.DATETIME: "timestamp[us, tz=UTC]",
    types_pb2.DURATION: "duration[us]",
}


def _target_schema(schema: pyarrow.Schema, dataset_type: types_pb2.StructuredDatasetType) -> pyarrow.Schema:
    """The result's schema, with the declared columns' types (a declared column it lacks is an error)."""
    import pyarrow

    if not dataset_type.columns:
        return schema
    by_name = {f.name.lower(): f for f in schema}
    fields: list[Any] = []
    for column in dataset_type.columns:
        found = by_name.get(column.name.lower())
        if found is None:
            raise ResultTypeError(
                f"the result has no column {column.name!r} (its columns: {', '.join(schema.names) or 'none'})"
            )
        simple = column.literal_type.simple if column.literal_type.HasField("simple") else None
        if simple not in _SIMPLE:
            raise ResultTypeError(
                f"column {column.name!r} is declared with a type parquet results cannot hold"
            )
        fields.append(pyarrow.field(column.name, pyarrow.type_for_alias(_SIMPLE[simple])))
    return pyarrow.schema(fields)


def _convert(table: pyarrow.Table, target: pyarrow.Schema) -> pyarrow.Table:
    import pyarrow

    if table.schema.equals(target):
        return table
    by_name = {name.lower(): i for i, name in enumerate(table.column_names)}
    columns = []
    for field in target:
        column = table.column(by_name[field.name.lower()])
        try:
            columns.append(column.cast(field.type))
        except (pyarrow.ArrowInvalid, pyarrow.ArrowNotImplementedError) as exc:
            raise ResultTypeError(
                f"column {field.name!r} of type {column.type} cannot be converted to the declared {field.type}: {exc}"
            ) from None
    return pyarrow.Table.from_arrays(columns, schema=target)
