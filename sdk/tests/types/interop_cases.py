"""The values that cross between Roost and flytekit in the interop tests, defined once for both sides.

This module is imported by Roost's tests and by ``flytekit_side.py`` in flytekit's own virtualenv, so it
imports neither ``roost`` nor ``flytekit``: each side passes in its file, folder and dataset classes
(:class:`Side`). Classes defined here (dataclasses, the pickled ``Opaque``) have the same module name on
both sides, as pickles and dataclass schemas need.

``canonical(value)`` turns a value of either side into plain JSON data, so that what one side wrote and the
other read can be compared as data.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import os
import typing
from collections.abc import Callable
from typing import Annotated, Any, Optional, Union

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pydantic

UTC = datetime.UTC


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


@dataclasses.dataclass
class Inner:
    x: int
    label: str = "a"


@dataclasses.dataclass
class Everything:
    i: int
    f: float
    s: str
    b: bool
    when: datetime.datetime
    day: datetime.date
    span: datetime.timedelta
    color: Color
    ints: list[int]
    floats: dict[str, float]
    maybe: Optional[int]  # noqa: UP045 -- flytekit's spelling, on purpose
    either: Union[int, str]  # noqa: UP007
    inner: Inner
    inners: list[Inner]
    maybe_inner: Optional[Inner] = None  # noqa: UP045
    loose: dict = dataclasses.field(default_factory=dict)
    by_number: dict[int, str] = dataclasses.field(default_factory=dict)
    scale: float = 1.5
    tags: list[str] = dataclasses.field(default_factory=list)
    extras: list = dataclasses.field(default_factory=list)
    mode: typing.Literal["fast", "slow"] = "fast"
    size: Color = Color.RED
    anything: Any = None
    until: datetime.datetime = datetime.datetime(2030, 1, 1)


class Child(pydantic.BaseModel):
    weight: float


class Model(pydantic.BaseModel):
    child: Optional[Child] = None  # noqa: UP045
    name: str
    count: int = 0
    ratios: list[float] = []
    inner: Optional[dict[str, int]] = None  # noqa: UP045


class Opaque:
    """A class no transformer knows: it travels pickled."""

    def __init__(self, x: int) -> None:
        self.x = x


@dataclasses.dataclass
class Side:
    """One side's classes: ``File``/``FlyteFile``, ``Directory``/``FlyteDirectory``,
    ``StructuredDataset``."""

    name: str
    File: Any
    Directory: Any
    StructuredDataset: Any


@dataclasses.dataclass
class Case:
    """A type, how to make a value of it in a folder, and whether both sides' literals must be equal."""

    python_type: Any
    make: Callable[[str], Any]
    same_literal: bool = True
    expect: Callable[[Any], Any] = lambda value: value
    """What reading the written value gives (a dataset declaring columns reads only those)."""


def _text_file(folder: str, name: str, text: str) -> str:
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name)
    with open(path, "w") as file:
        file.write(text)
    return path


def _tree(folder: str) -> str:
    root = os.path.join(folder, "tree")
    _text_file(root, "a.txt", "alpha")
    _text_file(os.path.join(root, "sub"), "b.txt", "beta")
    return root


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {"a": [1, 2, 3], "b": ["x", "y", "z"], "c": [0.5, 1.5, 2.5], "d": [True, False, True]}
    )


def build_cases(side: Side) -> dict[str, Case]:
    """Every interop case, by name, for one side."""
    flytekit = side.name == "flytekit"
    everything = Everything(
        i=-(2**40),
        f=0.25,
        s="héllo",
        b=True,
        when=datetime.datetime(2024, 2, 3, 4, 5, 6, 789000, tzinfo=UTC),
        day=datetime.date(2024, 2, 29),
        span=datetime.timedelta(days=1, seconds=2, microseconds=3),
        color=Color.GREEN,
        ints=[1, 2, 3],
        floats={"one": 1.0, "half": 0.5},
        maybe=None,
        either="seven",
        inner=Inner(1),
        inners=[Inner(2, "b"), Inner(3)],
        maybe_inner=Inner(4, "d"),
        loose={"k": [1, {"z": None}], "t": True},
        by_number={1: "one", 2: "two"},
        tags=["p", "q"],
        extras=[1, "x", None],
        mode="slow",
        anything={"free": ["form", 1]},
    )
    frame_type = pd.DataFrame
    with_files = dataclasses.make_dataclass(
        "WithFiles",
        [
            ("doc", side.File),
            ("folder", side.Directory),
            ("table", side.StructuredDataset),
            ("extra", Optional[side.File]),  # noqa: UP045
        ],
    )
    model_with_files = pydantic.create_model(
        "ModelWithFiles",
        doc=(side.File, ...),
        folder=(side.Directory, ...),
        table=(side.StructuredDataset, ...),
        count=(int, 0),
    )
    return {
        "int": Case(int, lambda d: 7),
        "big_int": Case(int, lambda d: -(2**62)),
        "float": Case(float, lambda d: 1.25),
        "str": Case(str, lambda d: "héllo wörld"),
        "bool": Case(bool, lambda d: False),
        "datetime_aware": Case(
            datetime.datetime,
            lambda d: datetime.datetime(
                2024, 5, 6, 7, 8, 9, 123456, tzinfo=datetime.timezone(datetime.timedelta(hours=2))
            ),
        ),
        "datetime_naive": Case(datetime.datetime, lambda d: datetime.datetime(2024, 5, 6, 7, 8, 9)),
        "date": Case(datetime.date, lambda d: datetime.date(2023, 12, 31)),
        "timedelta": Case(
            datetime.timedelta, lambda d: datetime.timedelta(days=2, seconds=3, microseconds=4)
        ),
        "none": Case(type(None), lambda d: None),
        "enum": Case(Color, lambda d: Color.RED),
        "literal_values": Case(typing.Literal["a", "b"], lambda d: "b"),
        "list_int": Case(list[int], lambda d: [1, 2, 3]),
        "list_empty": Case(list[str], lambda d: []),
        "list_nested": Case(list[list[float]], lambda d: [[1.0], [], [2.5, 3.5]]),
        "dict_str_int": Case(dict[str, int], lambda d: {"a": 1, "b": 2}),
        "dict_untyped": Case(dict, lambda d: {"a": 1, "b": [1.5, "x", None], "c": {"d": True}}),
        "dict_int_keys": Case(dict[int, str], lambda d: {1: "one", 2: "two"}),
        "optional_none": Case(Optional[int], lambda d: None),  # noqa: UP045
        "optional_value": Case(Optional[int], lambda d: 5),  # noqa: UP045
        "pipe_optional": Case(int | None, lambda d: 6),
        "union_str": Case(Union[int, str], lambda d: "x"),  # noqa: UP007
        "union_int": Case(Union[int, str], lambda d: 3),  # noqa: UP007
        "union_str_or_enum": Case(Union[str, Color], lambda d: "red"),  # noqa: UP007
        "union_enum_member": Case(Union[str, Color], lambda d: Color.GREEN),  # noqa: UP007
        "list_optional": Case(list[Optional[int]], lambda d: [1, None, 3]),  # noqa: UP045
        "dict_of_lists": Case(dict[str, list[str]], lambda d: {"k": ["v", "w"]}),
        "dataclass_small": Case(Inner, lambda d: Inner(5, "five")),
        "dataclass": Case(Everything, lambda d: everything),
        "optional_dataclass": Case(Optional[Inner], lambda d: Inner(9)),  # noqa: UP045
        "list_dataclass": Case(list[Inner], lambda d: [Inner(1), Inner(2, "two")]),
        "pydantic": Case(
            Model, lambda d: Model(name="m", count=3, ratios=[0.5], inner={"a": 1}, child=Child(weight=2.5))
        ),
        "pydantic_files": Case(
            model_with_files,
            lambda d: model_with_files(
                doc=side.File(_text_file(d, "m.txt", "model file")),
                folder=side.Directory(_tree(d)),
                table=side.StructuredDataset(dataframe=pd.DataFrame({"a": [1, 2]})),
                count=2,
            ),
            same_literal=False,
        ),
        "list_datetime": Case(
            list[datetime.datetime],
            lambda d: [datetime.datetime(2020, 1, 1, tzinfo=UTC), datetime.datetime(1999, 12, 31)],
        ),
        "list_files": Case(
            list[side.File],
            lambda d: [side.File(_text_file(d, "1.txt", "one")), side.File(_text_file(d, "2.txt", "two"))],
            same_literal=False,
        ),
        "dict_of_dataclasses": Case(dict[str, Inner], lambda d: {"a": Inner(1), "b": Inner(2, "bee")}),
        "file": Case(
            side.File, lambda d: side.File(_text_file(d, "hello.txt", "hello file")), same_literal=False
        ),
        "file_csv": Case(
            side.File["csv"], lambda d: side.File(_text_file(d, "t.csv", "a,b\n1,2\n")), same_literal=False
        ),
        "directory": Case(side.Directory, lambda d: side.Directory(_tree(d)), same_literal=False),
        "optional_file": Case(
            Optional[side.File],  # noqa: UP045
            lambda d: side.File(_text_file(d, "o.txt", "opt")),
            same_literal=False,
        ),
        "dataframe_pandas": Case(pd.DataFrame, lambda d: _frame(), same_literal=False),
        "dataframe_columns": Case(
            Annotated[pd.DataFrame, {"a": int, "b": str}],
            lambda d: _frame(),
            same_literal=False,
            expect=lambda frame: frame[["a", "b"]],
        ),
        "dataframe_arrow": Case(pa.Table, lambda d: pa.Table.from_pandas(_frame()), same_literal=False),
        "dataframe_polars": Case(
            frame_type if flytekit else pl.DataFrame,
            (lambda d: _frame()) if flytekit else (lambda d: pl.from_pandas(_frame())),
            same_literal=False,
        ),
        "structured_dataset": Case(
            side.StructuredDataset, lambda d: side.StructuredDataset(dataframe=_frame()), same_literal=False
        ),
        "dataclass_with_files": Case(
            with_files,
            lambda d: with_files(
                side.File(_text_file(d, "doc.txt", "document")),
                side.Directory(_tree(d)),
                side.StructuredDataset(dataframe=_frame()),
                None,
            ),
            same_literal=False,
        ),
        "numpy": Case(
            np.ndarray, lambda d: np.arange(12, dtype=np.float32).reshape(3, 4), same_literal=False
        ),
        "pickle": Case(Opaque, lambda d: Opaque(42), same_literal=False),
    }


def canonical(value: Any) -> Any:
    """Plain JSON data describing a value of either side (files by content, frames by columns)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return {"float": value}
    if isinstance(value, datetime.datetime):
        moment = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        return {"datetime": moment.isoformat()}
    if isinstance(value, datetime.date):
        return {"date": value.isoformat()}
    if isinstance(value, datetime.timedelta):
        return {"timedelta": value.total_seconds()}
    if isinstance(value, enum.Enum):
        return {"enum": value.value}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    if isinstance(value, dict):
        return {"dict": sorted([canonical(k), canonical(v)] for k, v in value.items())}
    if isinstance(value, pydantic.BaseModel):
        fields = {name: canonical(getattr(value, name)) for name in type(value).model_fields}
        return {"model": type(value).__name__, "fields": fields}
    if isinstance(value, pd.DataFrame):
        return {"frame": {str(c): canonical(list(value[c].tolist())) for c in value.columns}}
    if isinstance(value, pa.Table):
        return {"frame": {c: canonical(v) for c, v in value.to_pydict().items()}}
    if isinstance(value, pl.DataFrame):
        return {"frame": {c: canonical(v) for c, v in value.to_dict(as_series=False).items()}}
    if isinstance(value, np.ndarray):
        return {"array": canonical(value.tolist()), "dtype": str(value.dtype)}
    if isinstance(value, Opaque):
        return {"opaque": value.x}
    if type(value).__name__ == "StructuredDataset":
        return canonical(value.open(pd.DataFrame).all())
    if isinstance(value, os.PathLike):
        return _path_content(os.fspath(value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"dataclass": type(value).__name__, "fields": fields}
    raise TypeError(f"no canonical form for {type(value)}")


def _path_content(path: str) -> Any:
    if os.path.isdir(path):
        files = {}
        for folder, _, names in os.walk(path):
            for name in names:
                full = os.path.join(folder, name)
                with open(full) as file:
                    files[os.path.relpath(full, path)] = file.read()
        return {"folder": dict(sorted(files.items()))}
    with open(path) as file:
        return {"file": file.read()}
