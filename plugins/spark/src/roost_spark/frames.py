"""pyspark data frames as StructuredDatasets in parquet, as flytekitplugins-spark stores them.

A Spark data frame is a plan over its session, so it is written as soon as its task returns it (never kept
in memory between tasks) and read back by the session of the task that takes it; pandas, pyarrow and polars
tasks read the same parquet folder, and Spark tasks read theirs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flyteidl.core import literals_pb2, types_pb2

from roost.extend import StructuredDataset, StructuredDatasetDecoder, StructuredDatasetEncoder, TypeContext

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["SparkParquetDecoder", "SparkParquetEncoder"]

DATAFRAME = "pyspark.sql.dataframe.DataFrame"
"""The class every pyspark data frame derives from (Spark 4's classic and Connect frames too)."""
PARQUET = "parquet"
_FILE = "file://"


def _session() -> SparkSession:
    """The running task's session, else this process's active one, else a shared local one."""
    from pyspark.sql import SparkSession

    from roost.extend import current_context
    from roost_spark.task import SPARK_SESSION

    try:
        return current_context().get(SPARK_SESSION)
    except (AttributeError, LookupError, RuntimeError):
        pass
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    from roost_spark.session import SessionKey, local_master, shared_sessions

    with shared_sessions.use(SessionKey.of(local_master(None), {}, {}), "roost: data frames") as spark:
        return spark


def _local_path(uri: str) -> str | None:
    if TypeContext.is_local(uri):
        return uri
    if uri.startswith(_FILE):
        return uri[len(_FILE) :]
    return None


class SparkParquetEncoder(StructuredDatasetEncoder["DataFrame"]):
    """Writes a Spark data frame as a parquet folder (no ``_SUCCESS`` marker), on any blob store."""

    keep_in_memory = False

    def __init__(self) -> None:
        super().__init__(DATAFRAME, None, PARQUET)

    def encode(
        self, ctx: TypeContext, dataset: StructuredDataset, dataset_type: types_pb2.StructuredDatasetType
    ) -> literals_pb2.StructuredDataset:
        frame: DataFrame = dataset.dataframe
        assert dataset.uri
        spark = frame.sparkSession
        spark.conf.set("mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
        local = _local_path(dataset.uri)
        if local is not None:
            frame.write.mode("overwrite").parquet(local)
        else:
            # Spark has no client for Roost's blob stores: write here, then upload the folder.
            folder = ctx.new_local_path("parquet")
            frame.write.mode("overwrite").parquet(folder)
            ctx.upload_directory(folder, dataset.uri)
        return literals_pb2.StructuredDataset(
            uri=ctx.literal_uri(dataset.uri),
            metadata=literals_pb2.StructuredDatasetMetadata(structured_dataset_type=dataset_type),
        )


class SparkParquetDecoder(StructuredDatasetDecoder["DataFrame"]):
    """Reads a parquet folder (or file) as a Spark data frame of the running task's session."""

    def __init__(self) -> None:
        super().__init__(DATAFRAME, None, PARQUET)

    def decode(
        self, ctx: TypeContext, dataset: literals_pb2.StructuredDataset, columns: list[str] | None
    ) -> DataFrame:
        path = _local_path(dataset.uri) or ctx.local_copy(dataset.uri)
        frame = _session().read.parquet(path)
        return frame.select(*columns) if columns else frame

    def from_memory(self, frame: Any, columns: list[str] | None) -> Any:
        """Spark frames are never kept in memory: read the stored data."""
        return None
