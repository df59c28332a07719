"""HashMethod: a cached task keyed by its input's declared hash instead of where the data was written."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
import pytest

from roost import HashMethod, task, workflow
from roost.errors import ExecutionFailedError

trained: list[int] = []


def hash_frame(df: pd.DataFrame) -> str:
    return str(int(pd.util.hash_pandas_object(df).sum()))


@task
def load(rows: int) -> Annotated[pd.DataFrame, HashMethod(hash_frame)]:
    return pd.DataFrame({"a": range(rows)})


@task
def load_plain(rows: int) -> pd.DataFrame:
    return pd.DataFrame({"a": range(rows)})


@task(cache=True, cache_version="1")
def train(df: pd.DataFrame) -> int:
    trained.append(len(df))
    return int(df.a.sum())


@workflow
def hashed(rows: int) -> int:
    return train(df=load(rows=rows))


@workflow
def unhashed(rows: int) -> int:
    return train(df=load_plain(rows=rows))


@pytest.fixture(autouse=True)
def forget():
    trained.clear()


def test_the_downstream_cache_hits_when_the_hash_is_the_same():
    assert hashed(rows=4) == 6
    assert hashed(rows=4) == 6
    assert trained == [4]
    assert hashed(rows=5) == 10
    assert trained == [4, 5]


def test_without_a_hash_method_each_new_frame_misses_the_cache():
    assert unhashed(rows=4) == 6
    assert unhashed(rows=4) == 6
    assert trained == [4, 4]


def test_the_hash_is_in_the_literal():
    from roost.types import TypeContext, to_literal
    from roost_core.plugins import EnginePlugins
    from roost_core.storage import build_storage

    frame = pd.DataFrame({"a": [1, 2]})
    with TypeContext(build_storage(EnginePlugins(entry_points=False)), "mem://hash-test") as ctx:
        literal = to_literal(ctx, frame, Annotated[pd.DataFrame, HashMethod(hash_frame)])
    assert literal.hash == hash_frame(frame)


def test_a_hash_method_that_returns_no_str_is_named():
    @task
    def bad() -> Annotated[int, HashMethod(lambda v: v)]:
        return 3

    @workflow
    def wf() -> int:
        return bad()

    with pytest.raises(ExecutionFailedError, match=r"HashMethod <lambda> must return a str, not int"):
        wf()
