"""How ``Grid`` frames are stored: JSON lines on any blob store, or rows of a SQLite table at ``gridtable://``."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import uuid
from pathlib import Path
from typing import Any

from flyteidl.core import literals_pb2, types_pb2

from roost.extend import (
    StructuredDataset,
    StructuredDatasetDecoder,
    StructuredDatasetEncoder,
    TypeContext,
    data_files,
)
from roost_sample_plugin.grid import Grid

JSONL = "jsonl"
GRIDTABLE = "gridtable"
GRIDTABLE_DB_ENV = "ROOST_SAMPLE_GRIDTABLE_DB"
_TABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _literal(uri: str, dataset_type: types_pb2.StructuredDatasetType) -> literals_pb2.StructuredDataset:
    return literals_pb2.StructuredDataset(
        uri=uri, metadata=literals_pb2.StructuredDatasetMetadata(structured_dataset_type=dataset_type)
    )


class GridJsonLinesEncoder(StructuredDatasetEncoder[Grid]):
    """A grid as one JSON object per row, in ``part-00000.jsonl`` of the dataset's folder."""

    def __init__(self) -> None:
        super().__init__(Grid, None, JSONL)

    def encode(
        self, ctx: TypeContext, dataset: StructuredDataset, dataset_type: types_pb2.StructuredDatasetType
    ) -> literals_pb2.StructuredDataset:
        grid: Grid = dataset.dataframe
        assert dataset.uri
        body = "".join(json.dumps(row) + "\n" for row in grid.rows())
        ctx.write(f"{dataset.uri.rstrip('/')}/part-00000.jsonl", body.encode())
        return _literal(ctx.literal_uri(dataset.uri), dataset_type)


class GridJsonLinesDecoder(StructuredDatasetDecoder[Grid]):
    """Every JSON-lines file of the dataset's folder, as one grid."""

    def __init__(self) -> None:
        super().__init__(Grid, None, JSONL)

    def decode(
        self, ctx: TypeContext, dataset: literals_pb2.StructuredDataset, columns: list[str] | None
    ) -> Grid:
        rows = [
            json.loads(line)
            for path in data_files(ctx.local_copy(dataset.uri))
            for line in Path(path).read_text().splitlines()
            if line.strip()
        ]
        names = columns or (list(rows[0]) if rows else [])
        return Grid({name: [row[name] for row in rows] for name in names})

    def from_memory(self, frame: Grid, columns: list[str] | None) -> Grid:
        return frame.select(columns) if columns else frame.copy()


def gridtable_database() -> Path:
    """The SQLite file holding the ``gridtable://`` tables."""
    configured = os.environ.get(GRIDTABLE_DB_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base, "roost-sample", "gridtables.sqlite")


def _connect() -> sqlite3.Connection:
    path = gridtable_database()
    path.parent.mkdir(parents=True, exist_ok=True)
    return sqlite3.connect(path, timeout=30)


def _table(uri: str) -> str:
    name = uri.removeprefix(f"{GRIDTABLE}://").strip("/")
    if not _TABLE.fullmatch(name):
        raise ValueError(f"{uri!r} does not name a table: expected gridtable://<letters, digits, _>")
    return name


class GridTableEncoder(StructuredDatasetEncoder[Grid]):
    """A grid as the rows of a SQLite table: ``gridtable://<table>`` (a fresh table when no URI is given)."""

    def __init__(self) -> None:
        super().__init__(Grid, GRIDTABLE)

    def encode(
        self, ctx: TypeContext, dataset: StructuredDataset, dataset_type: types_pb2.StructuredDatasetType
    ) -> literals_pb2.StructuredDataset:
        grid: Grid = dataset.dataframe
        table = _table(dataset.uri) if dataset.uri else f"grid_{uuid.uuid4().hex}"
        columns = ", ".join(f'"{name}"' for name in grid.columns)
        with _connect() as db:
            db.execute(f'DROP TABLE IF EXISTS "{table}"')
            db.execute(f'CREATE TABLE "{table}" ({columns})')
            marks = ", ".join("?" for _ in grid.columns)
            db.executemany(
                f'INSERT INTO "{table}" VALUES ({marks})',
                [[json.dumps(value) for value in row.values()] for row in grid.rows()],
            )
        return _literal(f"{GRIDTABLE}://{table}", dataset_type)


class GridTableDecoder(StructuredDatasetDecoder[Grid]):
    """The rows of a ``gridtable://`` table; only the columns asked for are selected."""

    def __init__(self) -> None:
        super().__init__(Grid, GRIDTABLE)

    def decode(
        self, ctx: TypeContext, dataset: literals_pb2.StructuredDataset, columns: list[str] | None
    ) -> Grid:
        table = _table(dataset.uri)
        wanted = ", ".join(f'"{name}"' for name in columns) if columns else "*"
        with _connect() as db:
            cursor = db.execute(f'SELECT {wanted} FROM "{table}"')
            names = [description[0] for description in cursor.description]
            rows: list[Any] = cursor.fetchall()
        return Grid.from_rows(names, [[json.loads(value) for value in row] for row in rows])
