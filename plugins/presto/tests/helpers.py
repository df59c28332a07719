"""Building presto tasks and their engine for tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from flyteidl.core import literals_pb2, tasks_pb2

import roost_presto.engine
from roost_core.engine.config import EngineConfig
from roost_core.storage import Storage
from roost_core.testing.harness import OneTaskEngine, build_handler
from roost_core.testing.tasks import file_storage
from roost_presto.testing import TrinoTestServer
from roost_presto.testing.conformance import QUERY, trips_inputs
from roost_presto.testing.conformance import trips_task as conformance_trips_task

inputs = trips_inputs
"""The trips query's inputs (``city``, ``limit``)."""


def trips_task(query: str = QUERY, **options: Any) -> tasks_pb2.TaskTemplate:
    """The trips query's template, named ``tests.trips`` (``options`` go to :class:`~roost_presto.TrinoTask`)."""
    return conformance_trips_task(query, name="tests.trips", **options)


def section(server: TrinoTestServer, **extra: Any) -> dict[str, Any]:
    """The presto handler's settings for the test server: fast polling."""
    return {"coordinator": server.url, "resync_interval": 0.05, **extra}


def handler(server: TrinoTestServer, **extra: Any) -> Any:
    """The presto handler as an engine builds it."""
    return build_handler([roost_presto.engine], "presto", section=section(server, **extra))


def engine(
    template: tasks_pb2.TaskTemplate, root: Path, server: TrinoTestServer, **extra: Any
) -> OneTaskEngine:
    """One presto task on a real engine, data under ``root``."""
    return OneTaskEngine(
        template,
        file_storage(root),
        data_prefix=f"file://{root}/data",
        plugins=[roost_presto.engine],
        config=EngineConfig(poll_interval=0.05, handlers={"presto": section(server, **extra)}),
    )


def read_results(storage: Storage, outputs: literals_pb2.LiteralMap) -> pa.Table:
    """The ``results`` dataset of a query's outputs, read with pyarrow."""
    uri = outputs.literals["results"].scalar.structured_dataset.uri
    parts = sorted(u for u in storage.list(uri) if u.endswith(".parquet"))
    return pa.concat_tables([pq.read_table(pa.BufferReader(storage.read(u))) for u in parts])
