"""pandas DataFrames passed between tasks as structured datasets (parquet)."""

import pandas as pd

from roost import task, workflow


@task
def make(rows: int) -> pd.DataFrame:
    """A frame with a number column and its square."""
    return pd.DataFrame({"n": range(rows), "square": [i * i for i in range(rows)]})


@task
def keep_even(frame: pd.DataFrame) -> pd.DataFrame:
    """The even rows."""
    return frame[frame["n"] % 2 == 0].reset_index(drop=True)


@task
def total(frame: pd.DataFrame) -> int:
    """The sum of the squares."""
    return int(frame["square"].sum())


@workflow
def wf(rows: int = 10) -> int:
    """Make, filter and sum a data frame."""
    return total(frame=keep_even(frame=make(rows=rows)))
