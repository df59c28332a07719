"""Outside mpi-local (whose wrapper names failed ranks), a Roost MPI task's messages name its rank, from the
variables its MPI launcher sets. (That only rank 0 writes outputs is shown end to end, locally and on the
Kubernetes test server.)"""

from __future__ import annotations

import mpi_tasks
import pytest


@pytest.mark.parametrize(
    ("environment", "label"),
    [
        ({}, "task 'world'"),
        ({"OMPI_COMM_WORLD_RANK": "2", "OMPI_COMM_WORLD_SIZE": "4"}, "task 'world' (rank 2 of 4)"),
        ({"PMI_RANK": "1", "PMI_SIZE": "2"}, "task 'world' (rank 1 of 2)"),
        ({"PMIX_RANK": "3"}, "task 'world' (rank 3)"),
        ({"OMPI_COMM_WORLD_RANK": "0", "OMPI_COMM_WORLD_SIZE": "1"}, "task 'world'"),
        (
            {"OMPI_COMM_WORLD_RANK": "2", "OMPI_COMM_WORLD_SIZE": "4", "ROOST_MPI_LOCAL_RANK": "2"},
            "task 'world'",
        ),
    ],
)
def test_the_label_names_the_rank_outside_mpi_local(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], label: str
) -> None:
    for name in ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "PMI_RANK", "PMI_SIZE", "PMIX_RANK"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("ROOST_MPI_LOCAL_RANK", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert mpi_tasks.world.label == label
