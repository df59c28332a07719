"""The ``ray-local`` handler through the plugin test kit: a Roost Ray task's driver runs on a local runtime
bounded by the task's resources, attempts share runtimes, abort leaves no process behind, a driver running when
its engine stops finishes on the next engine (which then stops that runtime and removes its folder), and bad
settings are refused naming the key."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ray_tasks
from flyteidl.core import literals_pb2

import roost_ray.engine
from roost.testing import check_task_template
from roost_core.errors import SettingsError
from roost_core.handler import TaskPhase
from roost_core.testing.driver import Driver, wait_until
from roost_core.testing.harness import build_handler
from roost_core.testing.tasks import task_context
from roost_ray.local import RayLocalHandler
from roost_ray.runtime import session_processes

HERE = Path(__file__).parent


def _handler(tmp_path: Path) -> RayLocalHandler:
    built = build_handler(
        [roost_ray.engine],
        "ray-local",
        section={
            "work_dir": str(tmp_path / "work"),
            "idle_timeout": 30,
            "kill_grace_period": 2,
            "task_environment": {"env": {"PYTHONPATH": str(HERE)}},
        },
    )
    assert isinstance(built, RayLocalHandler)
    return built


@pytest.fixture
def handler(tmp_path: Path) -> Iterator[RayLocalHandler]:
    built = _handler(tmp_path)
    yield built
    built.close()


def _string_inputs(**values: str) -> literals_pb2.LiteralMap:
    return literals_pb2.LiteralMap(
        literals={
            name: literals_pb2.Literal(
                scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(string_value=value))
            )
            for name, value in values.items()
        }
    )


def test_a_task_runs_on_a_runtime_shaped_by_its_resources(handler: RayLocalHandler, tmp_path: Path) -> None:
    template = check_task_template(ray_tasks.fan_stats)
    ctx = task_context(tmp_path, template, inputs={"n": 6}, execution="ok")
    shape = handler.shape(ctx)
    assert (shape.num_cpus, shape.memory, shape.object_store_memory) == (2, 1024**3, int(0.3 * 1024**3))
    driver = Driver(handler, ctx, wait=120)
    first = driver.round()
    assert first.phase is TaskPhase.QUEUED and "starting a local Ray runtime (2 CPUs" in first.reason
    done = driver.until_done()
    assert done.phase is TaskPhase.SUCCESS, done.error
    outputs = ctx.storage.read_proto(ctx.outputs_uri, literals_pb2.LiteralMap)
    assert outputs.literals["o0"].scalar.primitive.integer == 55
    assert outputs.literals["o1"].scalar.primitive.float_value == 2.0
    session = driver.ctx.state["runtime"]["session"]
    assert session_processes(session), "the runtime is kept for the next attempt"

    # A second attempt of the same shape joins the same runtime.
    again = Driver(handler, task_context(tmp_path, template, inputs={"n": 3}, execution="again"), wait=120)
    assert again.until_done().phase is TaskPhase.SUCCESS
    assert again.ctx.state["runtime"]["session"] == session
    driver.finalize()
    again.finalize()


def test_abort_kills_the_driver_and_every_process_of_the_runtime(
    handler: RayLocalHandler, tmp_path: Path
) -> None:
    marker = tmp_path / "worker.pid"
    template = check_task_template(ray_tasks.hang)
    ctx = task_context(tmp_path, template, inputs=_string_inputs(marker=str(marker)), execution="abort")
    driver = Driver(handler, ctx, wait=120)
    driver.until(lambda t: t.phase is TaskPhase.RUNNING, "the driver running")
    wait_until(
        lambda: marker.exists() and marker.read_text(), "a Ray worker running the remote call", timeout=120
    )
    worker = int(marker.read_text())
    session = driver.ctx.state["runtime"]["session"]
    supervisor = driver.ctx.state["process"]["pid"]
    assert worker in session_processes(session)
    driver.abort()
    wait_until(lambda: not session_processes(session), "the runtime's processes gone", timeout=30)
    wait_until(
        lambda: not _alive(worker) and not _group_alive(supervisor), "driver and worker gone", timeout=30
    )
    assert handler.pool.runtimes() == []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"idle_timeout": "soon"}, "engine.handlers.ray-local.idle_timeout"),
        ({"reuse_runtime": "sometimes"}, "engine.handlers.ray-local.reuse_runtime"),
        ({"max_gpus": 1}, "engine.handlers.ray-local.max_gpus"),
    ],
)
def test_bad_settings_name_the_key(section: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        build_handler([roost_ray.engine], "ray-local", section=section)
    assert message in str(caught.value)


def test_a_driver_running_when_its_engine_stops_finishes_on_the_next_engine(tmp_path: Path) -> None:
    ctx = task_context(
        tmp_path, check_task_template(ray_tasks.nap), inputs={"seconds": 6}, execution="restart"
    )
    first = _handler(tmp_path)
    driver = Driver(first, ctx, wait=120)
    try:
        driver.until(lambda t: t.phase is TaskPhase.RUNNING, "the driver running")
    finally:
        first.close()  # the engine stops (a restart) while the driver runs
    session = driver.ctx.state["runtime"]["session"]
    folder = Path(driver.ctx.state["runtime"]["folder"])
    second = _handler(tmp_path)
    again = Driver(second, driver.ctx, wait=120)
    finished = False
    try:
        assert session_processes(session), "closing the handler killed the runtime a driver runs on"
        done = again.until_done()
        assert done.phase is TaskPhase.SUCCESS, done.error
        again.finalize()
        finished = True
        wait_until(
            lambda: not session_processes(session), "the previous engine's runtime to stop", timeout=30
        )
        assert not folder.exists(), "the previous engine's runtime was stopped but its folder left behind"
    finally:
        if not finished:
            again.abort()  # no driver or runtime left behind by a failing run
        second.close()
