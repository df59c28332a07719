"""Iterator[T] outputs and inputs: generators in, lazily converted iterators out, collections on the wire."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from roost import File, current_context, task, workflow
from roost.errors import ExecutionFailedError
from roost.types import to_literal_type


@task
def count_up(n: int) -> Iterator[int]:
    yield from range(n)


@task
def total(values: Iterator[int]) -> int:
    assert len(values) >= 0  # type: ignore[arg-type]  # the iterator knows its length
    return sum(values)


@task
def as_list(values: list[int]) -> list[int]:
    return values


@task
def files(n: int) -> Iterator[File]:
    for i in range(n):
        path = current_context().working_directory / f"iter-{i}.txt"
        path.write_text(str(i))
        yield File(str(path))


@task
def read_all(found: Iterator[File]) -> str:
    return ",".join(Path(f.download()).read_text() for f in found)


@workflow
def wf(n: int) -> tuple[int, list[int], str]:
    return total(values=count_up(n=n)), as_list(values=count_up(n=n)), read_all(found=files(n=n))


def test_iterators_flow_between_tasks_and_into_lists():
    assert wf(n=4) == (6, [0, 1, 2, 3], "0,1,2,3")


def test_the_wire_type_is_a_collection_of_the_element():
    assert to_literal_type(Iterator[int]) == to_literal_type(list[int])


def test_a_wrong_element_is_named_with_its_position():
    @task
    def mixed() -> Iterator[int]:
        yield 1
        yield "two"  # type: ignore[misc]

    @workflow
    def bad() -> int:
        return total(values=mixed())

    with pytest.raises(ExecutionFailedError, match=r"\[1\]"):
        bad()
