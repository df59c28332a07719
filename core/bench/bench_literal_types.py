"""How long the engine's value check takes: ``literal_matches`` on 10,000 outputs of a few shapes.

    python core/bench/bench_literal_types.py

Prints one line per shape; nothing is asserted.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from flyteidl.core import literals_pb2, types_pb2

from roost_core.literal_types import can_cast, literal_matches

INT = types_pb2.LiteralType(simple=types_pb2.SimpleType.INTEGER)
NONE = types_pb2.LiteralType(simple=types_pb2.SimpleType.NONE)
OPTIONAL_INT = types_pb2.LiteralType(union_type=types_pb2.UnionType(variants=[INT, NONE]))
LIST_OF_INT = types_pb2.LiteralType(collection_type=INT)


def _int(value: int) -> literals_pb2.Literal:
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=value)))


def _time(label: str, count: int, check: Callable[[], bool]) -> None:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(count):
            check()
        best = min(best, time.perf_counter() - started)
    print(f"{label}: {best * 1000:.1f} ms for {count} checks ({best / count * 1e6:.2f} us each)")


def main() -> None:
    scalar = _int(7)
    union_value = literals_pb2.Literal(
        scalar=literals_pb2.Scalar(union=literals_pb2.Union(value=scalar, type=INT))
    )
    hundred = literals_pb2.Literal(
        collection=literals_pb2.LiteralCollection(literals=[_int(i) for i in range(100)])
    )
    _time("literal_matches int -> int", 10_000, lambda: literal_matches(scalar, INT))
    _time("literal_matches int -> int | None", 10_000, lambda: literal_matches(scalar, OPTIONAL_INT))
    _time(
        "literal_matches union(int) -> int | None",
        10_000,
        lambda: literal_matches(union_value, OPTIONAL_INT),
    )
    _time(
        "literal_matches list of 100 ints -> list[int]",
        10_000,
        lambda: literal_matches(hundred, LIST_OF_INT),
    )
    _time("can_cast int -> int | None", 10_000, lambda: can_cast(INT, OPTIONAL_INT))


if __name__ == "__main__":
    main()
