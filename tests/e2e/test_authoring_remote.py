"""flytekit's authoring features on `roost start`: failure handlers of workflows and sub-workflows told the
error, and @eager workflows whose task process launches, follows and aborts its children through the admin."""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Starter
from test_roost_cli import roost, succeeded, wait_for

from roost_admin.testing.server import RoostServer

RUN_REMOTE_JSON = ("run", "--remote", "--wait", "--no-progress", "-o", "json")
"""`roost run` on the server, waited for, its outputs printed as JSON."""

CODE = """
    import asyncio
    import tempfile
    import time
    from pathlib import Path
    from typing import Optional

    from roost import File, FlyteError, OutputLocation, ShellTask, Workflow, eager, kwtypes, task, workflow


    @task
    def boom(x: int) -> int:
        raise ValueError(f"boom {x}")


    @task
    def record(marker: str, x: int, err: Optional[FlyteError] = None) -> None:
        Path(marker).write_text(f"{err.failed_node_id}|{err.message}" if err else "no error")


    @workflow(on_failure=record)
    def inner(marker: str, x: int) -> int:
        return boom(x=x)


    @workflow
    def outer(marker: str, x: int) -> int:
        return inner(marker=marker, x=x)


    @task
    def square(x: int) -> int:
        return x * x


    @task
    def linger(seconds: float) -> float:
        time.sleep(seconds)
        return seconds


    @eager
    async def fan(n: int) -> int:
        values = await asyncio.gather(*(square(x=i) for i in range(n)))
        return sum(values) + await square(x=n)


    @workflow
    def eager_wf(n: int = 3) -> int:
        return fan(n=n)


    @eager
    async def patient(seconds: float) -> float:
        return await linger(seconds=seconds)


    @workflow
    def patient_wf(seconds: float = 300.0) -> float:
        return patient(seconds=seconds)


    count_words = ShellTask(
        name="count_words",
        script="wc -w < {inputs.text} | tr -d ' ' > {outputs.counted}",
        inputs=kwtypes(text=File),
        output_locs=[OutputLocation(var="counted", var_type=File, location="{inputs.text}.count")],
    )


    @task
    def write(text: str) -> File:
        path = Path(tempfile.mkdtemp()) / "words.txt"
        path.write_text(text)
        return File(str(path))


    @task
    def read(counted: File) -> int:
        return int(Path(counted.download()).read_text())


    built = Workflow(name="authoring.built")
    words = built.add_workflow_input("words", str)
    counted = built.add_entity(count_words, text=built.add_entity(write, text=words).o0)
    built.add_workflow_output("count", built.add_entity(read, counted=counted.counted).o0)
"""


@pytest.fixture(scope="module")
def server(module_roost_server: Starter, tmp_path_factory: pytest.TempPathFactory) -> RoostServer:
    """One server for the module. Task processes find the admin through the client config file, which is
    written once the server has its port (its environment names the file's folder)."""
    config_home = tmp_path_factory.mktemp("task-config")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CONFIG_HOME", str(config_home))
        started = module_roost_server()
    (config_home / "roost").mkdir()
    (config_home / "roost" / "config.yaml").write_text(yaml.safe_dump({"endpoint": started.grpc_endpoint}))
    return started


@pytest.fixture
def code(tmp_path: Path) -> Path:
    folder = tmp_path / "code"
    folder.mkdir()
    (folder / "authoring.py").write_text(textwrap.dedent(CODE))
    return folder


def executions(env: dict[str, str], server: RoostServer) -> dict[str, Any]:
    rows = json.loads(succeeded(roost(env, "get", "executions", "-o", "json"), server))
    return {row["name"]: row for row in rows}


def test_a_sub_workflows_failure_handler_runs_remotely_and_gets_the_error(
    server: RoostServer, code: Path, tmp_path: Path
) -> None:
    env = server.client_env(tmp_path)
    marker = tmp_path / "handled.txt"
    run = roost(
        env,
        "run",
        "--remote",
        "--name",
        "handled",
        "authoring.py",
        "outer",
        "--marker",
        str(marker),
        "--x",
        "7",
        cwd=code,
    )
    succeeded(run, server)
    assert wait_for(env, server, "handled")["closure"]["phase"] == "FAILED"
    failed_node, _, message = marker.read_text().partition("|")
    assert failed_node == "n0-0-n0"
    assert message.startswith("node 'n0-0-n0': task 'boom' raised ValueError: boom 7")


def test_an_eager_workflow_runs_its_children_through_the_admin(
    server: RoostServer, code: Path, tmp_path: Path
) -> None:
    env = server.client_env(tmp_path)
    before = set(executions(env, server))
    # Named: a generated name starts with "e" one time in 26, and would count among the children.
    run = roost(env, *RUN_REMOTE_JSON, "--name", "squares", "authoring.py", "eager_wf", cwd=code)
    assert json.loads(succeeded(run, server)) == {"o0": 0 + 1 + 4 + 9}
    children = {
        name: row
        for name, row in executions(env, server).items()
        if name not in before and name.startswith("e")
    }
    assert len(children) == 4
    assert {row["phase"] for row in children.values()} == {"SUCCEEDED"}


def test_aborting_an_eager_workflow_aborts_its_children(
    server: RoostServer, code: Path, tmp_path: Path
) -> None:
    env = server.client_env(tmp_path)
    before = set(executions(env, server))
    succeeded(
        roost(env, "run", "--remote", "--name", "patience", "authoring.py", "patient_wf", cwd=code), server
    )
    deadline = time.monotonic() + 120
    while True:
        children = [n for n in executions(env, server) if n not in before and n.startswith("e")]
        if children:
            break
        assert time.monotonic() < deadline, f"the eager task started no child:\n{server.log()[-4000:]}"
        time.sleep(0.3)
    succeeded(roost(env, "terminate", "patience", "--cause", "enough"), server)
    assert wait_for(env, server, "patience")["closure"]["phase"] == "ABORTED"
    (child,) = children
    assert wait_for(env, server, child)["closure"]["phase"] == "ABORTED"


def test_an_imperative_workflow_with_a_shell_task_runs_remotely(
    server: RoostServer, code: Path, tmp_path: Path
) -> None:
    env = server.client_env(tmp_path)
    run = roost(env, *RUN_REMOTE_JSON, "authoring.py", "built", "--words", "one two three four", cwd=code)
    assert json.loads(succeeded(run, server)) == {"count": 4}
