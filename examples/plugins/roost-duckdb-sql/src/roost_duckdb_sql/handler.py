"""The ``duckdb_sql`` handler: runs ``duckdb-sql`` tasks in the engine's process, each query on a thread of its
own so that ``handle`` only starts it and looks at it.

A query reads its inputs (parameters from the input literals, data frames downloaded from blob storage), runs
in a DuckDB connection of its own, writes its result as parquet under the attempt's raw output prefix, and
writes ``outputs.pb``; then it wakes the engine (``ctx.notify``). ``abort`` interrupts it. The work lives in
this process only: an engine that restarts runs the query again from the start (it only reads, and writes to
the same per-attempt places), which is what the conformance suite's restart check sees.
"""

from __future__ import annotations

import datetime
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flyteidl.core import literals_pb2, types_pb2

from roost_core.extend import (
    ErrorKind,
    Storage,
    StorageError,
    TaskContext,
    TaskHandler,
    Transition,
    attempt_job_id,
)
from roost_duckdb_sql.settings import DuckDBSQLSettings
from roost_duckdb_sql.task import OUTPUT

if TYPE_CHECKING:
    import duckdb

PARQUET_FILE = "00000"
"""The file a parquet data frame's folder holds (flytekit's and Roost's layout)."""

CSV_FILE = ".csv"
"""The file a CSV data frame's folder holds (flytekit's and Roost's layout)."""

TABLE_READERS = {"": "read_parquet", "parquet": "read_parquet", "csv": "read_csv"}
"""How a data frame input of each recorded format is read ("" is the default format: parquet)."""


class QueryInputError(Exception):
    """An input the query cannot take: the message names it and says why."""


@dataclass
class _Query:
    """One attempt's query: its thread, its connection (to interrupt it) and, once it ended, its transition."""

    thread: threading.Thread | None = None
    connection: duckdb.DuckDBPyConnection | None = None
    result: Transition | None = None
    aborted: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def interrupt(self) -> None:
        """Stop the query if it still runs; safe to call any number of times."""
        with self.lock:
            self.aborted = True
            if self.connection is not None and self.result is None:
                self.connection.interrupt()


class DuckDBSQLHandler(TaskHandler):
    """Runs the query in ``custom["query"]`` with DuckDB; see the module's docstring."""

    state_version = 1

    def __init__(self, settings: DuckDBSQLSettings | None = None) -> None:
        self.settings = settings or DuckDBSQLSettings()
        self._queries: dict[str, _Query] = {}
        self._lock = threading.Lock()

    def handle(self, ctx: TaskContext) -> Transition:
        """Start the attempt's query (or wait for a free slot), then report it running until it ends; a
        repeated call after the end reports the same end until ``finalize``."""
        key = attempt_job_id(ctx.task_execution_id)
        with self._lock:
            query = self._queries.get(key)
            if query is None:
                running = sum(1 for q in self._queries.values() if q.result is None and not q.aborted)
                if running >= self.settings.max_queries:
                    return Transition.waiting_for_resources(
                        f"{running} DuckDB queries run in this engine (max_queries: "
                        f"{self.settings.max_queries}); waiting for one to end"
                    )
                query = self._queries[key] = _Query()
                query.thread = threading.Thread(
                    target=self._run, args=(ctx, query), name=f"duckdb-sql:{key}", daemon=True
                )
                query.thread.start()
        if query.result is not None:
            return query.result
        return Transition.running(reason="the query runs in DuckDB")

    def abort(self, ctx: TaskContext) -> None:
        """Interrupt the attempt's query, if it runs here."""
        query = self._queries.get(attempt_job_id(ctx.task_execution_id))
        if query is not None:
            query.interrupt()

    def finalize(self, ctx: TaskContext) -> None:
        """Forget the attempt's query (interrupting it if it still runs)."""
        with self._lock:
            query = self._queries.pop(attempt_job_id(ctx.task_execution_id), None)
        if query is not None:
            query.interrupt()

    def close(self) -> None:
        """Interrupt every query still running and wait for their threads."""
        with self._lock:
            queries = list(self._queries.values())
            self._queries.clear()
        for query in queries:
            query.interrupt()
            if query.thread is not None:
                query.thread.join(timeout=10)

    # the query's thread

    def _run(self, ctx: TaskContext, query: _Query) -> None:
        try:
            result = self._execute(ctx, query)
        except Exception as exc:  # a bug here must still end the attempt, not leave it running forever
            result = Transition.failure(
                "DuckDBHandlerError",
                f"duckdb-sql task {ctx.task.id.name!r}: {type(exc).__name__}: {exc}",
                kind=ErrorKind.SYSTEM,
            )
        with query.lock:
            query.result = result
            query.connection = None
        ctx.notify()

    def _execute(self, ctx: TaskContext, query: _Query) -> Transition:
        import duckdb

        task = ctx.task.id.name
        custom = ctx.task.custom.fields
        sql = custom["query"].string_value if "query" in custom else ""
        if not sql.strip():
            return Transition.failure(
                "BadConfig",
                f"duckdb-sql task {task!r}: TaskTemplate.custom has no 'query'",
                kind=ErrorKind.USER,
                retryable=False,
            )
        try:
            inputs = ctx.read_inputs()
        except StorageError as exc:
            return Transition.failure(
                "InputsUnreadable", f"duckdb-sql task {task!r}: {exc}", kind=ErrorKind.SYSTEM
            )
        with tempfile.TemporaryDirectory(prefix="roost-duckdb-sql-") as scratch:
            try:
                parameters, tables = _inputs(ctx, inputs, Path(scratch))
            except QueryInputError as exc:
                return Transition.failure(
                    "BadInput", f"duckdb-sql task {task!r}: {exc}", kind=ErrorKind.USER, retryable=False
                )
            except StorageError as exc:
                return Transition.failure(
                    "InputsUnreadable", f"duckdb-sql task {task!r}: {exc}", kind=ErrorKind.SYSTEM
                )
            config: dict[str, str | bool | int | float | list[str]] = {}
            if self.settings.threads:
                config["threads"] = self.settings.threads
            database = self.settings.database or ":memory:"
            try:
                connection = duckdb.connect(database, read_only=bool(self.settings.database), config=config)
            except duckdb.Error as exc:
                # the engine's configuration is at fault, not the task: a SYSTEM error
                return Transition.failure(
                    "DatabaseUnavailable",
                    f"duckdb-sql task {task!r}: cannot open the database {database!r} "
                    f"(engine.handlers.duckdb_sql.database): {exc}",
                    kind=ErrorKind.SYSTEM,
                )
            with query.lock:
                if query.aborted:
                    connection.close()
                    return _aborted(task)
                query.connection = connection
            result_file = Path(scratch) / PARQUET_FILE
            try:
                for name, (reader, files) in tables.items():
                    connection.execute(_view(name, reader, files))
                # a statement that returns no rows (CREATE, INSERT) gives DuckDB's one-row "Count" result
                relation = connection.sql(sql, params=parameters or None)
                relation.write_parquet(str(result_file))
            except duckdb.InterruptException:
                return _aborted(task)
            except duckdb.Error as exc:
                return Transition.failure(
                    "QueryFailed", f"duckdb-sql task {task!r}: the query failed: {exc}", kind=ErrorKind.USER
                )
            finally:
                connection.close()
            try:
                ctx.write_outputs(_outputs(ctx, result_file))
            except StorageError as exc:
                return Transition.failure(
                    "OutputsUnwritable", f"duckdb-sql task {task!r}: {exc}", kind=ErrorKind.SYSTEM
                )
        return Transition.success()


def _view(name: str, reader: str, files: list[str]) -> str:
    """The statement making a data frame input queryable as the table ``name`` (a DDL statement takes no
    parameters, so the names are quoted here)."""
    paths = ", ".join("'" + file.replace("'", "''") + "'" for file in files)
    return f'create temp view "{name.replace(chr(34), chr(34) * 2)}" as select * from {reader}([{paths}])'


def _aborted(task: str) -> Transition:
    return Transition.failure(
        "Aborted", f"duckdb-sql task {task!r}: the query was interrupted", kind=ErrorKind.SYSTEM
    )


def _inputs(
    ctx: TaskContext, inputs: literals_pb2.LiteralMap, scratch: Path
) -> tuple[dict[str, Any], dict[str, tuple[str, list[str]]]]:
    """The query's parameters (name → value) and tables (name → reader and local files); every input the
    task declares must be given."""
    parameters: dict[str, Any] = {}
    tables: dict[str, tuple[str, list[str]]] = {}
    for name in ctx.task.interface.inputs.variables:
        if name not in inputs.literals:
            raise QueryInputError(f"input {name!r} is missing")
        literal = inputs.literals[name]
        if literal.scalar.HasField("structured_dataset"):
            try:
                tables[name] = _table(ctx.storage, name, literal.scalar.structured_dataset, scratch / name)
            except StorageError as exc:
                raise StorageError(f"input {name!r}: {exc}") from exc
        else:
            parameters[name] = _parameter(name, literal)
    return parameters, tables


def _parameter(name: str, literal: literals_pb2.Literal) -> Any:
    """The Python value DuckDB binds for a primitive input."""
    primitive = literal.scalar.primitive
    kind = primitive.WhichOneof("value") if literal.scalar.HasField("primitive") else None
    if kind == "integer":
        return primitive.integer
    if kind == "float_value":
        return primitive.float_value
    if kind == "string_value":
        return primitive.string_value
    if kind == "boolean":
        return primitive.boolean
    if kind == "datetime":
        return primitive.datetime.ToDatetime(tzinfo=datetime.UTC)
    what = kind or literal.WhichOneof("value") or "empty"
    if what == "scalar":
        what = literal.scalar.WhichOneof("value") or "empty"
    raise QueryInputError(
        f"input {name!r} is a {what}: parameters are integers, floats, strings, booleans or datetimes, "
        "and data frames are tables"
    )


def _table(
    storage: Storage, name: str, dataset: literals_pb2.StructuredDataset, folder: Path
) -> tuple[str, list[str]]:
    """Download a data frame input's files and say how DuckDB reads them."""
    file_format = dataset.metadata.structured_dataset_type.format
    reader = TABLE_READERS.get(file_format)
    if reader is None:
        raise QueryInputError(
            f"input {name!r} is stored as {file_format!r}; DuckDB reads parquet and csv data frames"
        )
    uri = dataset.uri.rstrip("/")
    # markers (_SUCCESS) and hidden files are not data, except the file flytekit's CSV writer names ".csv"
    remote = [u for u in storage.list(uri + "/") if _is_data(Path(u).name)]
    if not remote and storage.exists(uri):
        remote = [uri]  # a single file rather than a folder
    if not remote:
        raise QueryInputError(f"input {name!r}: no data at {dataset.uri}")
    folder.mkdir(parents=True)
    files = []
    for index, source in enumerate(sorted(remote)):
        local = folder / f"{index:05d}"
        local.write_bytes(storage.read(source))
        files.append(str(local))
    return reader, files


def _is_data(name: str) -> bool:
    return name == CSV_FILE or not name.startswith((".", "_"))


def _outputs(ctx: TaskContext, result_file: Path) -> literals_pb2.LiteralMap:
    """Upload the result under the attempt's raw output prefix; the ``results`` output points at it, typed
    as the interface declares it and recorded as parquet (as flytekit records the format written)."""
    folder = Storage.join(ctx.raw_output_prefix, "duckdb-sql", OUTPUT)
    ctx.storage.write(Storage.join(folder, PARQUET_FILE), result_file.read_bytes())
    dataset_type = types_pb2.StructuredDatasetType()
    declared = ctx.task.interface.outputs.variables.get(OUTPUT)
    if declared is not None:
        dataset_type.CopyFrom(declared.type.structured_dataset_type)
    dataset_type.format = "parquet"
    dataset = literals_pb2.StructuredDataset(
        uri=folder, metadata=literals_pb2.StructuredDatasetMetadata(structured_dataset_type=dataset_type)
    )
    literal = literals_pb2.Literal(scalar=literals_pb2.Scalar(structured_dataset=dataset))
    return literals_pb2.LiteralMap(literals={OUTPUT: literal})
