"""How the local launcher reads the MPI implementation and what a one-machine run gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from roost_mpi._launch import implementation, local_environment, local_flags


def fake_mpirun(tmp_path: Path, says: str) -> str:
    program = tmp_path / "mpirun"
    program.write_text(f"#!/bin/sh\necho '{says}'\n")
    program.chmod(0o755)
    return str(program)


@pytest.mark.parametrize(
    ("says", "kind", "btl"),
    [
        ("mpirun (Open MPI) 5.0.11", "openmpi", "self,sm"),
        ("mpirun (Open MPI) 4.1.5", "openmpi4", "self,vader"),
        ("HYDRA build details: Version: 4.2.0", "mpich", None),
        ("something else", "", None),
    ],
)
def test_the_implementation_decides_the_transports(
    tmp_path: Path, says: str, kind: str, btl: str | None
) -> None:
    found = implementation(fake_mpirun(tmp_path, says))
    assert found == kind
    assert local_environment(found, {}) == ({"OMPI_MCA_btl": btl} if btl else {})
    assert ("--oversubscribe" in local_flags(found)) == kind.startswith("openmpi")


def test_transports_the_environment_names_are_kept() -> None:
    assert local_environment("openmpi", {"OMPI_MCA_btl": "self,tcp"}) == {}


def test_a_missing_mpirun_is_unknown(tmp_path: Path) -> None:
    assert implementation(str(tmp_path / "nothing")) == ""
