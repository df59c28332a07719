"""MPI tasks serialize as flytekit 1.16 with flytekitplugins-kfmpi serializes them: same task type and version,
the same ``custom`` (compared as JSON text and as the parsed flyteidl message), the same resources, and the
same ``mpirun`` prefix of the container args; only the program after it differs (``roost-execute`` against
``python entrypoint.py pyflyte-execute``), with the same container-contract arguments."""

from __future__ import annotations

import json
import subprocess
import types
from pathlib import Path

import mpi_cases
import pytest
from flyteidl.core import tasks_pb2
from flyteidl.plugins.kubeflow import mpi_pb2
from google.protobuf.json_format import MessageToDict, ParseDict

import roost_mpi
from roost import Resources, task
from roost.serialize import SerializationSettings, Serializer
from roost.testing import check_task_template
from roost_mpi.command import program_of
from roost_mpi.sdk import MPITask

HERE = Path(__file__).parent
CONTRACT = [
    "--inputs",
    "{{.input}}",
    "--output-prefix",
    "{{.outputPrefix}}",
    "--raw-output-data-prefix",
    "{{.rawOutputDataPrefix}}",
    "--checkpoint-path",
    "{{.checkpointOutputPrefix}}",
    "--prev-checkpoint",
    "{{.prevCheckpointPrefix}}",
]
SETTINGS = SerializationSettings(project="proj", domain="dev", version="v1", image="tests/image:1")


@pytest.fixture(scope="module")
def flytekit_out(flytekit_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("flytekit-mpi")
    run = subprocess.run(
        [str(flytekit_venv / "bin" / "python"), str(HERE / "flytekit_mpi_side.py"), str(out)],
        capture_output=True,
        text=True,
        cwd=HERE,
        timeout=300,
        check=False,
        env={"PATH": "/usr/bin:/bin", "FLYTE_SDK_LOGGING_LEVEL": "40", "HOME": str(out)},
    )
    if run.returncode != 0:
        pytest.fail(
            f"flytekit_mpi_side.py failed ({run.returncode}):\n{run.stdout}\n{run.stderr}", pytrace=False
        )
    return out


def roost_cases() -> dict[str, roost_mpi.MPIJob]:
    ns = types.SimpleNamespace(**{name: getattr(roost_mpi, name) for name in roost_mpi.__all__})
    ns.Resources = Resources
    built: dict[str, roost_mpi.MPIJob] = mpi_cases.cases(ns)
    return built


def roost_task(case: str) -> MPITask:
    def body(n: int) -> int:
        return n

    body.__name__ = case
    made = task(task_config=roost_cases()[case])(body)
    assert isinstance(made, MPITask)
    return made


def roost_template(case: str) -> tasks_pb2.TaskTemplate:
    return Serializer(SETTINGS).task(roost_task(case))


@pytest.mark.parametrize("case", sorted(roost_cases()))
def test_custom_and_command_match_flytekit(case: str, flytekit_out: Path) -> None:
    theirs = tasks_pb2.TaskTemplate.FromString((flytekit_out / f"{case}.task.pb").read_bytes())
    ours = roost_template(case)
    assert (ours.type, ours.task_type_version) == (theirs.type, theirs.task_type_version) == ("mpi", 1)
    # The dict custom() returns, as JSON text, key order included; then as stored in the template.
    assert json.dumps(roost_task(case).custom(SETTINGS)) == (flytekit_out / f"{case}.custom.json").read_text()
    our_custom, their_custom = MessageToDict(ours.custom), MessageToDict(theirs.custom)
    assert json.dumps(our_custom, sort_keys=True) == json.dumps(their_custom, sort_keys=True)
    assert ParseDict(our_custom, mpi_pb2.DistributedMPITrainingTask()) == ParseDict(
        their_custom, mpi_pb2.DistributedMPITrainingTask()
    )
    assert ours.container.resources == theirs.container.resources
    our_args, their_args = list(ours.container.args), list(theirs.container.args)
    our_program, their_program = program_of(our_args), program_of(their_args)
    mpirun_part = our_args.index("-np") + 2
    assert our_args[:mpirun_part] == their_args[:mpirun_part]
    assert their_args[mpirun_part:][:2] == ["python", "/opt/venv/bin/entrypoint.py"]
    assert our_program[0] == "roost-execute" and their_program[0] == "pyflyte-execute"
    assert our_program[1:11] == their_program[1:11] == CONTRACT


def test_template_checks_with_the_kit() -> None:
    @task(
        task_config=roost_mpi.MPIJob(
            worker=roost_mpi.Worker(replicas=2), launcher=roost_mpi.Launcher(replicas=1)
        )
    )
    def ranks(n: int) -> int:
        return n

    template = check_task_template(ranks, custom_message=mpi_pb2.DistributedMPITrainingTask)
    assert template.type == "mpi"
    assert "-np" in template.container.args and template.container.args[0] == "mpirun"
