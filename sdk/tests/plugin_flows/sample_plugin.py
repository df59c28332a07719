"""Workflows over the sample plugin (sdk/tests/plugin_package): its data frame kind, blob store and task class."""

from typing import Annotated

from roost_sample_plugin import LEDGER, Audited, Grid

from roost import StructuredDataset, current_context, task, workflow


@task
def make_grid(n: int) -> Grid:
    """A grid of n rows."""
    return Grid(
        {"n": list(range(n)), "square": [i * i for i in range(n)], "name": [f"r{i}" for i in range(n)]}
    )


@task
def park(grid: Grid, where: str) -> StructuredDataset:
    """The grid stored at ``where`` (a sqlblob:// folder, or a gridtable:// table)."""
    return StructuredDataset(dataframe=grid, uri=where)


@task
def squares(data: Annotated[StructuredDataset, {"square": int}]) -> list[int]:
    """The square column of a stored grid, read back through its protocol."""
    grid = data.open(Grid).all()
    assert grid.columns == ["square"], grid.columns
    return list(grid.data["square"])


@task(task_config=Audited(book="$SAMPLE_AUDIT_BOOK", level=2, tags=("ci",)))
def audited_total(grid: Annotated[Grid, {"n": int}]) -> int:
    """The sum of column n, recorded in the ledger both ways the ledger is reachable."""
    LEDGER.get().record(f"summing {len(grid)} rows of {grid.columns}")
    current_context().ledger.record("typed and untyped ledgers agree")
    return sum(grid.data["n"])


@workflow
def wf(
    n: int = 4, blob_folder: str = "sqlblob://flows/grids/one", table: str = "gridtable://sample"
) -> tuple[int, list[int], list[int], Grid]:
    """Every piece of the plugin at once."""
    grid = make_grid(n=n)
    return (
        audited_total(grid=grid),
        squares(data=park(grid=grid, where=blob_folder)),
        squares(data=park(grid=grid, where=table)),
        grid,
    )
