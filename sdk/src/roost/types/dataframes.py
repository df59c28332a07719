"""pandas, pyarrow and polars as structured datasets, registered like any plugin's data frame kind.

Each library gets an encoder and a decoder per format, for any protocol the blob store serves. A dataset is a
folder: the parquet writers put one file named ``00000`` in it, the CSV writer one named ``.csv`` (flytekit's
layout); readers take every data file of the folder, as pandas and pyarrow read a parquet folder. Each library
is imported only when a frame of it is converted.
"""

from __future__ import annotations

import abc
import io
import os
from typing import TYPE_CHECKING, Any

from flyteidl.core import literals_pb2, types_pb2

from roost.plugins.hookspecs import RegisterDatasetHandler
from roost.types._optional import load
from roost.types.dataset_handlers import StructuredDatasetDecoder, StructuredDatasetEncoder, data_files
from roost_core.storage import Storage

if TYPE_CHECKING:
    from roost.types.context import TypeContext
    from roost.types.structured import StructuredDataset

PARQUET = "parquet"
CSV = "csv"
PARQUET_FILE = "00000"
CSV_FILE = ".csv"


class _FileEncoder(StructuredDatasetEncoder[Any]):
    """Writes the frame as one file in the dataset's folder."""

    def __init__(self, python_type: str, supported_format: str, file_name: str) -> None:
        super().__init__(python_type, None, supported_format)
        self.file_name = file_name

    def encode(
        self, ctx: TypeContext, dataset: StructuredDataset, dataset_type: types_pb2.StructuredDatasetType
    ) -> literals_pb2.StructuredDataset:
        """Write the frame's bytes to ``<folder>/<file name>``."""
        assert dataset.uri is not None
        ctx.write(Storage.join(dataset.uri, self.file_name), self.to_bytes(dataset.dataframe))
        return literals_pb2.StructuredDataset(
            uri=ctx.literal_uri(dataset.uri),
            metadata=literals_pb2.StructuredDatasetMetadata(structured_dataset_type=dataset_type),
        )

    @abc.abstractmethod
    def to_bytes(self, frame: Any) -> bytes:
        """The file's content."""


class _FileDecoder(StructuredDatasetDecoder[Any]):
    """Reads the dataset's files from a local copy."""

    def __init__(self, python_type: str, supported_format: str) -> None:
        super().__init__(python_type, None, supported_format)

    def decode(
        self, ctx: TypeContext, dataset: literals_pb2.StructuredDataset, columns: list[str] | None
    ) -> Any:
        """Download (unless local) and read."""
        return self.read(ctx.local_copy(dataset.uri), columns)

    def from_memory(self, frame: Any, columns: list[str] | None) -> Any:
        """A copy of the kept frame when it has exactly the columns asked for."""
        if columns and self.columns_of(frame) != columns:
            return None
        return frame.copy() if hasattr(frame, "copy") else frame

    @abc.abstractmethod
    def read(self, local: str, columns: list[str] | None) -> Any:
        """The frame in the local file or folder."""

    @staticmethod
    def columns_of(frame: Any) -> list[str]:
        """The frame's column names."""
        return list(getattr(frame, "column_names", None) or frame.columns)


class PandasParquetEncoder(_FileEncoder):
    """pandas → parquet, timestamps in microseconds (what flytekit writes)."""

    def __init__(self) -> None:
        super().__init__("pandas.DataFrame", PARQUET, PARQUET_FILE)

    def to_bytes(self, frame: Any) -> bytes:
        """``DataFrame.to_parquet``."""
        buffer = io.BytesIO()
        frame.to_parquet(buffer, coerce_timestamps="us", allow_truncated_timestamps=False)
        return buffer.getvalue()


class PandasCsvEncoder(_FileEncoder):
    """pandas → CSV without the index."""

    def __init__(self) -> None:
        super().__init__("pandas.DataFrame", CSV, CSV_FILE)

    def to_bytes(self, frame: Any) -> bytes:
        """``DataFrame.to_csv``."""
        buffer = io.BytesIO()
        frame.to_csv(buffer, index=False)
        return buffer.getvalue()


class PandasParquetDecoder(_FileDecoder):
    """parquet → pandas."""

    def __init__(self) -> None:
        super().__init__("pandas.DataFrame", PARQUET)

    def read(self, local: str, columns: list[str] | None) -> Any:
        """``pandas.read_parquet``."""
        return load("pandas").read_parquet(local, columns=columns)


class PandasCsvDecoder(_FileDecoder):
    """CSV → pandas."""

    def __init__(self) -> None:
        super().__init__("pandas.DataFrame", CSV)

    def read(self, local: str, columns: list[str] | None) -> Any:
        """``pandas.read_csv`` of the folder's ``.csv`` (or the file itself)."""
        path = local if os.path.isfile(local) else os.path.join(local, CSV_FILE)
        return load("pandas").read_csv(path, usecols=columns)


class ArrowParquetEncoder(_FileEncoder):
    """pyarrow → parquet."""

    def __init__(self) -> None:
        super().__init__("pyarrow.Table", PARQUET, PARQUET_FILE)

    def to_bytes(self, frame: Any) -> bytes:
        """``pyarrow.parquet.write_table``."""
        buffer = io.BytesIO()
        load("pyarrow.parquet").write_table(frame, buffer)
        return buffer.getvalue()


class ArrowParquetDecoder(_FileDecoder):
    """parquet → pyarrow."""

    def __init__(self) -> None:
        super().__init__("pyarrow.Table", PARQUET)

    def read(self, local: str, columns: list[str] | None) -> Any:
        """``pyarrow.parquet.read_table``."""
        return load("pyarrow.parquet").read_table(local, columns=columns)


class PolarsParquetEncoder(_FileEncoder):
    """polars → parquet."""

    def __init__(self) -> None:
        super().__init__("polars.DataFrame", PARQUET, PARQUET_FILE)

    def to_bytes(self, frame: Any) -> bytes:
        """``DataFrame.write_parquet``."""
        buffer = io.BytesIO()
        frame.write_parquet(buffer)
        return buffer.getvalue()


class PolarsParquetDecoder(_FileDecoder):
    """parquet → polars."""

    def __init__(self) -> None:
        super().__init__("polars.DataFrame", PARQUET)

    def read(self, local: str, columns: list[str] | None) -> Any:
        """``polars.read_parquet`` of every data file."""
        return load("polars").read_parquet(data_files(local), columns=columns)


def register_dataframe_kinds(register: RegisterDatasetHandler) -> None:
    """pandas (parquet by default, or CSV), pyarrow and polars (parquet), on any blob store."""
    register(PandasParquetEncoder(), default_format=True)
    register(PandasParquetDecoder())
    register(PandasCsvEncoder())
    register(PandasCsvDecoder())
    register(ArrowParquetEncoder())
    register(ArrowParquetDecoder())
    register(PolarsParquetEncoder())
    register(PolarsParquetDecoder())
