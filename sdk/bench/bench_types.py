"""How fast the type engine converts values: a 1e6-row pandas DataFrame to and from a structured dataset
(parquet on file://), and a few plain values for scale.

    python sdk/bench/bench_types.py

Prints one line per conversion; nothing is asserted.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from roost.types import StructuredDataset, TypeContext, TypeEngine
from roost_core.storage import FileStore, Storage

ROWS = 1_000_000


@dataclasses.dataclass
class Point:
    x: int
    y: float
    label: str


def _timed(label: str, action: Callable[[], Any], repeat: int = 3) -> Any:
    best = float("inf")
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = action()
        best = min(best, time.perf_counter() - start)
    print(f"{label:<58} {best * 1000:9.1f} ms")
    return result


def main() -> None:
    """Run every measurement once (best of three) and print it."""
    engine = TypeEngine.with_builtins()
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "id": np.arange(ROWS, dtype=np.int64),
            "value": rng.random(ROWS),
            "name": [f"row-{i % 1000}" for i in range(ROWS)],
        }
    )
    with tempfile.TemporaryDirectory() as folder:
        storage = Storage({"file": FileStore()})
        with TypeContext(storage, f"file://{folder}/raw", work_dir=folder) as ctx:
            literal = _timed(
                f"DataFrame {ROWS:,} rows -> StructuredDataset (parquet)",
                lambda: engine.to_literal(ctx, frame, pd.DataFrame),
            )
            back = _timed(
                f"StructuredDataset -> DataFrame {ROWS:,} rows",
                lambda: engine.to_python_value(ctx, literal, pd.DataFrame),
            )
            assert len(back) == ROWS
            wrapped = engine.to_python_value(ctx, literal, StructuredDataset)
            _timed("StructuredDataset.open(DataFrame).all()", lambda: wrapped.open(pd.DataFrame).all())
            numbers = list(range(100_000))
            lit = _timed(
                "list[int] of 100,000 -> literal", lambda: engine.to_literal(ctx, numbers, list[int])
            )
            _timed("literal -> list[int] of 100,000", lambda: engine.to_python_value(ctx, lit, list[int]))
            points = [Point(i, i / 2, f"p{i}") for i in range(10_000)]
            lit = _timed(
                "list[dataclass] of 10,000 -> literal", lambda: engine.to_literal(ctx, points, list[Point])
            )
            _timed(
                "literal -> list[dataclass] of 10,000", lambda: engine.to_python_value(ctx, lit, list[Point])
            )


if __name__ == "__main__":
    main()
