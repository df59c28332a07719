"""The registry of data frame kinds: a kind added by (type, protocol, format), handler choice and its fallbacks,
defaults, conflicts, frame-by-frame reading, and the local run's in-memory frames for added kinds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import pytest
from flyteidl.core import literals_pb2, types_pb2

from roost.extend import (
    StructuredDataset,
    StructuredDatasetDecoder,
    StructuredDatasetEncoder,
    TypeContext,
    data_files,
)
from roost.types import InvalidLiteralError, InvalidValueError, TypeEngine
from roost.types.memo import FrameMemo
from roost_core.storage import FileStore, MemoryStore, Storage


class Bag:
    """A toy frame: a list of rows (dicts)."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Bag) and other.rows == self.rows

    def __hash__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        return f"Bag({self.rows!r})"


class SubBag(Bag):
    pass


def literal(uri: str, file_format: str = "") -> literals_pb2.StructuredDataset:
    return literals_pb2.StructuredDataset(
        uri=uri,
        metadata=literals_pb2.StructuredDatasetMetadata(
            structured_dataset_type=types_pb2.StructuredDatasetType(format=file_format)
        ),
    )


class BagWriter(StructuredDatasetEncoder[Bag]):
    """Rows as JSON, in ``rows.json`` of the folder (any blob store)."""

    writes: list[str] = []

    def __init__(self, file_format: str = "json") -> None:
        super().__init__(Bag, None, file_format)

    def encode(self, ctx: TypeContext, dataset: StructuredDataset, dataset_type: Any) -> Any:
        assert dataset.uri
        BagWriter.writes.append(dataset.uri)
        ctx.write(f"{dataset.uri}/rows.json", json.dumps(dataset.dataframe.rows).encode())
        stored = literal(ctx.literal_uri(dataset.uri))
        stored.metadata.structured_dataset_type.CopyFrom(dataset_type)
        return stored


class BagReader(StructuredDatasetDecoder[Bag]):
    def __init__(self, file_format: str = "json") -> None:
        super().__init__(Bag, None, file_format)

    def decode(self, ctx: TypeContext, dataset: Any, columns: list[str] | None) -> Bag:
        rows = [
            row
            for path in data_files(ctx.local_copy(dataset.uri))
            for row in json.loads(Path(path).read_text())
        ]
        return Bag([{k: v for k, v in row.items() if not columns or k in columns} for row in rows])


TABLES: dict[str, list[dict[str, Any]]] = {}


class BagTableWriter(StructuredDatasetEncoder[Bag]):
    """A protocol whose data is not files: ``bagdb://<name>`` rows in a dict."""

    def __init__(self) -> None:
        super().__init__(Bag, "bagdb://")

    def encode(self, ctx: TypeContext, dataset: StructuredDataset, dataset_type: Any) -> Any:
        name = dataset.uri or f"bagdb://t{len(TABLES)}"
        TABLES[name] = list(dataset.dataframe.rows)
        return literal(name, "ignored")


class BagTableReader(StructuredDatasetDecoder[Bag]):
    def __init__(self) -> None:
        super().__init__(Bag, "bagdb")

    def decode(self, ctx: TypeContext, dataset: Any, columns: list[str] | None) -> Iterator[Bag]:
        for row in TABLES[dataset.uri]:  # frame by frame: one row each
            yield Bag([{k: v for k, v in row.items() if not columns or k in columns}])


@pytest.fixture
def engine() -> TypeEngine:
    engine = TypeEngine.with_builtins()
    engine.register_dataset_handler(BagWriter())
    engine.register_dataset_handler(BagReader())
    engine.register_dataset_handler(BagTableWriter())
    engine.register_dataset_handler(BagTableReader())
    return engine


@pytest.fixture
def storage() -> Storage:
    return Storage({"file": FileStore(), "mem": MemoryStore()})


@pytest.fixture
def ctx(storage: Storage, tmp_path: Path) -> Iterator[TypeContext]:
    with TypeContext(storage, "mem://bucket/raw", work_dir=tmp_path / "work") as context:
        yield context


BAG = Bag([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}])


def test_an_added_kind_converts_like_a_builtin_one(engine: TypeEngine, ctx: TypeContext) -> None:
    lit = engine.to_literal(ctx, BAG, Bag)
    stored = lit.scalar.structured_dataset
    assert stored.uri.startswith("mem://bucket/raw/")
    assert stored.metadata.structured_dataset_type.format == "json"  # the type's first (default) format
    assert engine.to_python_value(ctx, lit, Bag) == BAG
    assert engine.to_literal_type(Annotated[Bag, {"a": int}]) == types_pb2.LiteralType(
        structured_dataset_type=types_pb2.StructuredDatasetType(
            columns=[
                types_pb2.StructuredDatasetType.DatasetColumn(
                    name="a", literal_type=types_pb2.LiteralType(simple=1)
                )
            ]
        )
    )
    # Declared columns are what the decoder is asked for; subclasses use their base's handlers.
    assert engine.to_python_value(ctx, lit, Annotated[Bag, {"a": int}]) == Bag([{"a": 1}, {"a": 2}])
    assert engine.to_python_value(ctx, engine.to_literal(ctx, SubBag(BAG.rows), SubBag), Bag) == BAG
    dataset = engine.to_python_value(ctx, lit, StructuredDataset)
    assert dataset.open(Bag).all() == BAG
    assert list(dataset.open(Bag).iter()) == [BAG]


def test_a_protocol_encoder_is_chosen_by_the_uri_and_may_read_frame_by_frame(
    engine: TypeEngine, ctx: TypeContext
) -> None:
    lit = engine.to_literal(ctx, StructuredDataset(dataframe=BAG, uri="bagdb://sales"), StructuredDataset)
    stored = lit.scalar.structured_dataset
    assert stored.uri == "bagdb://sales" and TABLES["bagdb://sales"] == BAG.rows
    # The recorded format is the encoder's (any: ""), as flytekit records it.
    assert stored.metadata.structured_dataset_type.format == ""
    dataset = engine.to_python_value(ctx, lit, Annotated[StructuredDataset, {"b": str}])
    assert list(dataset.open(Bag).iter()) == [Bag([{"b": "x"}]), Bag([{"b": "y"}])]
    with pytest.raises(
        ValueError, match=r"^the decoder of Bag for 'bagdb://sales' reads it frame by frame: use \.iter\(\)$"
    ):
        dataset.open(Bag).all()
    with pytest.raises(
        InvalidLiteralError,
        match=r"^expected Bag but got a structured dataset literal \(bagdb://sales\): its decoder reads it frame "
        r"by frame: declare a StructuredDataset and use \.iter\(\)$",
    ):
        engine.to_python_value(ctx, lit, Bag)


def test_stored_data_passes_by_uri_to_a_frame_type(engine: TypeEngine, ctx: TypeContext) -> None:
    stored = engine.to_literal(ctx, BAG, Bag).scalar.structured_dataset
    passed = engine.to_literal(ctx, StructuredDataset(uri=stored.uri), Annotated[Bag, {"b": str}])
    assert passed.scalar.structured_dataset.uri == stored.uri
    assert engine.to_python_value(ctx, passed, Annotated[Bag, {"b": str}]) == Bag([{"b": "x"}, {"b": "y"}])


def test_a_default_protocol_sends_frames_there_without_a_uri(ctx: TypeContext) -> None:
    engine = TypeEngine.with_builtins()
    engine.register_dataset_handler(BagTableWriter(), default_protocol=True)
    engine.register_dataset_handler(BagWriter())
    stored = engine.to_literal(ctx, BAG, Bag).scalar.structured_dataset
    assert stored.uri.startswith("bagdb://t") and TABLES[stored.uri] == BAG.rows
    # A URI still decides: a blob-store folder goes to the any-protocol encoder.
    stored = engine.to_literal(
        ctx, StructuredDataset(dataframe=BAG, uri="mem://bucket/here"), StructuredDataset
    )
    assert stored.scalar.structured_dataset.uri == "mem://bucket/here"


def test_choosing_handlers_falls_back_and_says_what_there_is(engine: TypeEngine, ctx: TypeContext) -> None:
    engine.register_dataset_handler(BagWriter(""))  # any format
    stored = engine.to_literal(ctx, BAG, Annotated[Bag, "yaml"]).scalar.structured_dataset
    assert stored.metadata.structured_dataset_type.format == ""  # written by the any-format encoder
    with pytest.raises(
        InvalidValueError,
        match=r"^no encoder writes test_types_dataset_handlers\.Bag to s3:// as 'json'; registered: any blob store "
        r"as 'json', any format; bagdb:// as any format$",
    ):
        engine.to_literal(ctx, StructuredDataset(dataframe=BAG, uri="s3://bucket/x"), StructuredDataset)
    with pytest.raises(
        InvalidValueError,
        match=r"^set is not a dataframe type Roost can store \(pandas\.DataFrame, pyarrow\.Table, polars\.DataFrame, "
        r"test_types_dataset_handlers\.Bag\)$",
    ):
        engine.to_literal(ctx, StructuredDataset(dataframe={1}), StructuredDataset)
    with pytest.raises(
        InvalidLiteralError,
        match=r"no decoder reads test_types_dataset_handlers\.Bag from s3:// as 'json'; registered: any blob store "
        r"as 'json'; bagdb:// as any format$",
    ):
        engine.to_python_value(
            ctx, literals_pb2.Literal(scalar=literals_pb2.Scalar(structured_dataset=literal("s3://b/x"))), Bag
        )


def test_registration_conflicts_are_errors_naming_both_sides(engine: TypeEngine) -> None:
    with pytest.raises(
        ValueError,
        match=r"^cannot register <BagWriter: writes test_types_dataset_handlers\.Bag to any blob store as 'json'>: <BagWriter: .*> is registered for the same type, protocol and format$",
    ):
        engine.register_dataset_handler(BagWriter())
    with pytest.raises(
        ValueError, match=r"^cannot register <.*>: int is already handled by <IntTransformer 'int' for int>$"
    ):
        engine.register_dataset_handler(_IntWriter())
    with pytest.raises(
        ValueError, match=r"serves any protocol, so it cannot be the default protocol of its type$"
    ):
        engine.register_dataset_handler(BagWriter("csv"), default_protocol=True)
    engine.register_dataset_handler(BagWriter("parquet"))
    assert (
        engine.datasets.encoder(Bag, "mem", "", {"mem"}).supported_format == "parquet"
    )  # parquet when there
    engine.register_dataset_handler(BagWriter("yaml"), default_format=True)
    assert engine.datasets.encoder(Bag, "mem", "", {"mem"}).supported_format == "yaml"
    with pytest.raises(
        ValueError,
        match=r"^cannot make 'csv' the default format of test_types_dataset_handlers\.Bag: it is 'yaml' already$",
    ):
        engine.register_dataset_handler(BagWriter("csv"), default_format=True)
    with pytest.raises(ValueError, match=r"^a handler's protocol is a scheme like 's3' or 'bq'"):
        _EmptyProtocol()
    empty = TypeEngine()
    with pytest.raises(ValueError, match=r"this engine has no StructuredDataset transformer$"):
        empty.register_dataset_handler(BagWriter())


class _EmptyProtocol(BagWriter):
    def __init__(self) -> None:
        StructuredDatasetEncoder.__init__(self, Bag, "", "json")


class _IntWriter(BagWriter):
    def __init__(self) -> None:
        StructuredDatasetEncoder.__init__(self, int, None, "json")


def test_a_class_named_by_string_is_found_once_its_module_is_imported(ctx: TypeContext) -> None:
    engine = TypeEngine.with_builtins()
    engine.register_dataset_handler(_NamedWriter())
    assert (
        engine.to_literal(ctx, BAG, Bag).scalar.structured_dataset.metadata.structured_dataset_type.format
        == "named"
    )


class _NamedWriter(BagWriter):
    def __init__(self) -> None:
        StructuredDatasetEncoder.__init__(self, f"{__name__}.Bag", None, "named")


def test_a_local_run_keeps_added_kinds_in_memory(
    engine: TypeEngine, storage: Storage, tmp_path: Path
) -> None:
    frames = FrameMemo()
    BagWriter.writes.clear()
    with TypeContext(storage, "mem://bucket/raw", work_dir=tmp_path, frames=frames) as context:
        stored = engine.to_literal(context, BAG, Bag)
        uri = stored.scalar.structured_dataset.uri
        assert BagWriter.writes == [] and frames.pending(uri)
        read = engine.to_python_value(context, stored, Bag)
        assert read is BAG and BagWriter.writes == []  # handed over as it is: Bag has no copy()
        # Asking for columns: the default decoder hands over nothing from memory, so the frame is written first.
        assert engine.to_python_value(context, stored, Annotated[Bag, {"a": int}]) == Bag(
            [{"a": 1}, {"a": 2}]
        )
        assert BagWriter.writes == [uri] and not frames.pending(uri)


class _Elsewhere(BagWriter):
    def encode(self, ctx: TypeContext, dataset: StructuredDataset, dataset_type: Any) -> Any:
        stored = super().encode(ctx, dataset, dataset_type)
        stored.uri = "mem://bucket/elsewhere"
        return stored


class _NotKept(BagWriter):
    keep_in_memory = False


def test_an_encoder_that_stores_elsewhere_must_not_be_kept_in_memory(
    storage: Storage, tmp_path: Path
) -> None:
    engine = TypeEngine.with_builtins()
    engine.register_dataset_handler(_Elsewhere())
    frames = FrameMemo()
    with TypeContext(storage, "mem://bucket/raw", work_dir=tmp_path, frames=frames) as context:
        uri = engine.to_literal(context, BAG, Bag).scalar.structured_dataset.uri
    with pytest.raises(
        InvalidValueError,
        match=r"stored the frame at 'mem://bucket/elsewhere' instead of the folder it was given \('mem://bucket/raw/[0-9a-f]+'\); an encoder that does so must set keep_in_memory = False$",
    ):
        frames.flush([uri])
    engine = TypeEngine.with_builtins()
    engine.register_dataset_handler(_NotKept())
    BagWriter.writes.clear()
    with TypeContext(storage, "mem://bucket/raw", work_dir=tmp_path, frames=frames) as context:
        uri = engine.to_literal(context, BAG, Bag).scalar.structured_dataset.uri
    assert BagWriter.writes == [uri] and not frames.pending(uri)


def test_builtin_kinds_still_use_the_memory_with_columns(storage: Storage, tmp_path: Path) -> None:
    engine = TypeEngine.with_builtins()
    frames = FrameMemo()
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    with TypeContext(storage, "mem://bucket/raw", work_dir=tmp_path, frames=frames) as context:
        stored = engine.to_literal(context, frame, pd.DataFrame)
        uri = stored.scalar.structured_dataset.uri
        assert engine.to_python_value(context, stored, Annotated[pd.DataFrame, {"a": int, "b": str}]).equals(
            frame
        )
        assert frames.pending(uri)
        assert list(engine.to_python_value(context, stored, Annotated[pd.DataFrame, {"a": int}]).columns) == [
            "a"
        ]
        assert not frames.pending(uri)


def test_register_dataset_handler_adds_to_the_default_engine(ctx: TypeContext) -> None:
    from roost.extend import register_dataset_handler
    from roost.types import default_engine, set_default_engine

    set_default_engine(TypeEngine.with_builtins())
    try:
        register_dataset_handler(BagWriter())
        register_dataset_handler(BagReader())
        assert default_engine().to_python_value(ctx, default_engine().to_literal(ctx, BAG, Bag), Bag) == BAG
    finally:
        set_default_engine(None)
