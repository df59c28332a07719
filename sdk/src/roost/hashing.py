"""``HashMethod``: a value's own cache identity, for values whose content is costly or unstable to hash.

::

    def hash_frame(df: pd.DataFrame) -> str:
        return str(pd.util.hash_pandas_object(df).sum())

    @task
    def load() -> Annotated[pd.DataFrame, HashMethod(hash_frame)]: ...

    @task(cache=True, cache_version="1")
    def train(df: pd.DataFrame) -> float: ...   # cached by hash_frame's answer, not by the file's URI

The hash is stored in the output literal's ``hash`` field (flytekit's place for it); cache keys use that field
instead of the literal's content, so a downstream cached task hits the cache whenever the hash is the same,
even though each run writes the data to a new location.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class HashMethod(Generic[T]):
    """Computes the cache identity of a value: put it in ``Annotated[T, HashMethod(fn)]``."""

    def __init__(self, function: Callable[[T], str]) -> None:
        self.function = function

    def calculate(self, value: T) -> str:
        """The value's hash, as a string."""
        result: Any = self.function(value)
        if not isinstance(result, str):
            name = getattr(self.function, "__name__", repr(self.function))
            raise TypeError(f"HashMethod {name} must return a str, not {type(result).__name__}")
        return result


def hash_method_of(python_type: Any) -> HashMethod[Any] | None:
    """The ``HashMethod`` in an ``Annotated[...]`` type, if any."""
    if typing.get_origin(python_type) is not typing.Annotated:
        return None
    return next((a for a in typing.get_args(python_type)[1:] if isinstance(a, HashMethod)), None)
