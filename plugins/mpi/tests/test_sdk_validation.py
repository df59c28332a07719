"""Bad MPI configs fail at definition time, naming the task and the field, where flytekit refuses them too and
where no MPI job could run."""

from __future__ import annotations

from typing import Any

import pytest

from roost import task
from roost.errors import WorkflowDefinitionError
from roost_mpi import Launcher, MPIJob, RestartPolicy, RunPolicy, Worker


def define(config: Any) -> None:
    def train(n: int) -> int:
        return n

    task(task_config=config)(train)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            MPIJob(launcher=Launcher(replicas=1)),
            "MPIJob.worker.replicas is required (or the deprecated num_workers)",
        ),
        (
            MPIJob(worker=Worker(replicas=1)),
            "MPIJob.launcher.replicas is required (or the deprecated num_launcher_replicas)",
        ),
        (
            MPIJob(launcher=Launcher(replicas=1), worker=Worker(replicas=-2)),
            "MPIJob.worker.replicas must be a positive integer, not -2",
        ),
        (
            MPIJob(launcher=Launcher(replicas=1), worker=Worker(replicas=1), num_workers=2),
            "MPIJob: give worker.replicas or the deprecated num_workers, not both",
        ),
        (
            MPIJob(num_launcher_replicas=1, launcher=Launcher(replicas=1), num_workers=1),
            "MPIJob: give launcher.replicas or the deprecated num_launcher_replicas, not both",
        ),
        (
            MPIJob(num_launcher_replicas=0, num_workers=1),
            "MPIJob.num_launcher_replicas must be a positive integer, not 0",
        ),
        (
            MPIJob(num_launcher_replicas=1, num_workers=1, slots=0),
            "MPIJob.slots must be a positive integer, not 0",
        ),
        (
            MPIJob(num_launcher_replicas=1, num_workers=True),
            "MPIJob.num_workers must be a positive integer, not True",
        ),
        (
            MPIJob(num_launcher_replicas=1, num_workers=1, run_policy=RunPolicy(backoff_limit=-1)),
            "MPIJob.run_policy.backoff_limit must be a non-negative integer, not -1",
        ),
        (
            MPIJob(launcher=Launcher(replicas=1, command="mpirun x"), worker=Worker(replicas=1)),  # type: ignore[arg-type]
            "MPIJob.launcher.command must be a list of strings, not 'mpirun x'",
        ),
        (
            MPIJob(launcher=Launcher(replicas=1), worker=Worker(replicas=1, restart_policy="Never")),  # type: ignore[arg-type]
            "MPIJob.worker.restart_policy must be a RestartPolicy, not 'Never'",
        ),
        (
            MPIJob(worker=Launcher(replicas=1), launcher=Launcher(replicas=1)),
            "MPIJob.worker must be a Worker",
        ),  # type: ignore[arg-type]
    ],
)
def test_bad_configs_name_the_task_and_field(config: MPIJob, message: str) -> None:
    with pytest.raises(WorkflowDefinitionError) as raised:
        define(config)
    assert str(raised.value).startswith("task 'test_sdk_validation.train': ")
    assert message in str(raised.value)


def test_good_config_counts_ranks() -> None:
    def train(n: int) -> int:
        return n

    made = task(
        task_config=MPIJob(
            launcher=Launcher(replicas=1),
            worker=Worker(replicas=3, restart_policy=RestartPolicy.NEVER),
            slots=2,
        )
    )(train)
    assert made.ranks == 6  # type: ignore[attr-defined]
