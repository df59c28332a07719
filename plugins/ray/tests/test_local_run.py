"""Ray tasks in a local run (``run_locally``, as ``roost run`` runs them): a real local Ray bounded by the task's
resources, shared by the tasks of the run, and a runtime environment that fails to install."""

from __future__ import annotations

import pytest
import ray_tasks

from roost.errors import ExecutionFailedError
from roost.testing import run_locally


def test_fan_out_runs_on_a_bounded_local_ray() -> None:
    cluster = run_locally(ray_tasks.fan_out, {"n": 20})
    assert cluster.total == sum(i * i for i in range(20))
    assert cluster.cpus == 2  # limits cpu="2"
    assert cluster.object_store == int(1024**3 * 0.3)  # 30% of limits mem="1Gi"


def test_tasks_of_one_run_share_the_runtime() -> None:
    first, second = run_locally(ray_tasks.two_tasks, {"n": 5})
    assert first.total == second.total == 30
    assert first.address == second.address


def test_runtime_env_that_fails_to_install_fails_the_task() -> None:
    with pytest.raises(ExecutionFailedError) as caught:
        run_locally(ray_tasks.uninstallable, {"n": 3})
    message = str(caught.value)
    assert "task 'uninstallable': RayJobConfig.runtime_env" in message
    assert "failed to install" in message
    assert "roost-no-such-conda-env" in message
