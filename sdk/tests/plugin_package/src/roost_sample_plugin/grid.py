"""``Grid``: a small column-oriented table, the sample plugin's data frame kind."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class Grid:
    """Columns by name, each a list of values of the same length."""

    def __init__(self, columns: Mapping[str, Sequence[Any]]) -> None:
        lengths = {len(values) for values in columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"the columns of a Grid must have the same length, not {sorted(lengths)}")
        self.data = {name: list(values) for name, values in columns.items()}

    @classmethod
    def from_rows(cls, names: Sequence[str], rows: Sequence[Sequence[Any]]) -> Grid:
        """A grid of rows (each a sequence in the order of ``names``)."""
        return cls({name: [row[i] for row in rows] for i, name in enumerate(names)})

    @property
    def columns(self) -> list[str]:
        """The column names."""
        return list(self.data)

    def rows(self) -> list[dict[str, Any]]:
        """The rows, as mappings."""
        return [dict(zip(self.data, values, strict=True)) for values in zip(*self.data.values(), strict=True)]

    def select(self, names: Sequence[str]) -> Grid:
        """Only the columns ``names``; an unknown name is an error naming it."""
        missing = [name for name in names if name not in self.data]
        if missing:
            raise KeyError(f"no column(s) {', '.join(missing)} in a Grid of {', '.join(self.data)}")
        return Grid({name: self.data[name] for name in names})

    def copy(self) -> Grid:
        """An independent copy."""
        return Grid(self.data)

    def __len__(self) -> int:
        return len(next(iter(self.data.values()), []))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Grid) and other.data == self.data

    def __hash__(self) -> int:
        return hash(tuple(self.data))

    def __repr__(self) -> str:
        return f"Grid({self.data!r})"
