"""`roost start` in a subprocess, driven by the `roost` CLI as a user would: register the examples, run them
remotely and check their outputs (embedded defaults, S3 on SeaweedFS, PostgreSQL), and every client command."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import EXAMPLES, WARM, Starter
from example_cases import ANSWERS, ARGUMENTS, FILE_LINES

from roost_admin.testing.server import RoostServer, tool

TIMEOUT = 240


def roost(env: dict[str, str], *args: str, cwd: Path = EXAMPLES) -> subprocess.CompletedProcess[str]:
    """Run a `roost` command and return what it printed."""
    return subprocess.run(
        [tool("roost"), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=TIMEOUT, check=False
    )


def succeeded(result: subprocess.CompletedProcess[str], server: RoostServer) -> str:
    """The command's stdout, after checking that it succeeded (with everything needed to see why not)."""
    assert result.returncode == 0, (
        f"{result.args} exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}\n"
        f"server:\n{server.log()[-6000:]}"
    )
    return result.stdout


def failed(result: subprocess.CompletedProcess[str]) -> str:
    """The command's error output, after checking that it failed."""
    assert result.returncode != 0, f"{result.args} should have failed:\n{result.stdout}"
    return result.stderr


def read_blob(uri: str, backend: dict[str, Any], seaweed: Any) -> str:
    """The text of a file output, wherever the backend keeps it."""
    if uri.startswith("s3://"):
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        body = seaweed.client().get_object(Bucket=bucket, Key=key)["Body"].read()
        return str(body.decode())
    return Path(uri.removeprefix("file://")).read_text()


def test_examples_run_remotely(
    backend: dict[str, Any], roost_server: Starter, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    server = roost_server(**backend)
    lines = run_every_example(server, server.client_env(tmp_path))
    seaweed = request.getfixturevalue("seaweed") if "storage" in backend else None
    prefix = backend.get("storage") or (server.data_dir / "data").as_uri()
    assert lines["o1"].removeprefix("file://").startswith(prefix.removeprefix("file://"))
    assert read_blob(lines["o1"], backend, seaweed).count("\n") == FILE_LINES
    # Their tasks started from warm fork servers, unless the session switched them off.
    assert ("warm pool [roost." in server.log()) is WARM, server.log()[-6000:]


# An exhaustive variant: CI switches warm processes off in test_warm_processes.py, and `nox -s e2e_cold` runs every
# test, this one's embedded case included, with them off.
@pytest.mark.exhaustive
def test_examples_run_remotely_with_warm_processes_off(roost_server: Starter, tmp_path: Path) -> None:
    server = roost_server(env={"ROOST_WARM_PROCESSES": "0"})
    lines = run_every_example(server, server.client_env(tmp_path))
    assert Path(lines["o1"].removeprefix("file://")).read_text().count("\n") == FILE_LINES
    # Every task process started cold: no fork server ever started.
    assert "warm pool" not in server.log()


def run_every_example(server: RoostServer, env: dict[str, str]) -> dict[str, Any]:
    """Register the examples on ``server``, run each remotely, check their answers; the outputs of files.py."""
    # Plugin examples (PLUGIN_EXAMPLES) need their plugin package, which this session does not install.
    registered = succeeded(roost(env, "register", ".", "--skip-errors"), server)
    assert registered.startswith("registered in flytesnacks/development as version ")
    assert "32 task(s), 12 workflow(s), 12 launch plan(s)" in registered

    # Launched all at once: the workers run them side by side.
    runs = {
        example: subprocess.Popen(
            [tool("roost"), "run", "--remote", "--wait", "--no-progress", "-o", "json", example, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=EXAMPLES,
        )
        for example, args in ARGUMENTS.items()
    }
    outputs = {}
    for example, process in runs.items():
        stdout, stderr = process.communicate(timeout=TIMEOUT)
        result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        outputs[example] = json.loads(succeeded(result, server))
        assert "execution flytesnacks/development/" in stderr
    for example, answer in ANSWERS.items():
        assert outputs[example] == answer, example
    lines: dict[str, Any] = outputs["files.py"]
    assert lines["o0"] == FILE_LINES

    listed = json.loads(succeeded(roost(env, "get", "executions", "-o", "json"), server))
    assert sorted(row["phase"] for row in listed) == ["SUCCEEDED"] * len(ARGUMENTS)
    return lines


SLOW_AND_FAILING = """
    import time

    from roost import task, workflow


    @task
    def nap(seconds: float) -> float:
        time.sleep(seconds)
        return seconds


    @task
    def explode(x: int) -> int:
        raise ValueError(f"cannot handle {x}")


    @workflow
    def slow(seconds: float = 120.0) -> float:
        return nap(seconds=seconds)


    @workflow
    def broken(x: int = 3) -> int:
        return explode(x=x)
"""


def test_every_client_command(roost_server: Starter, tmp_path: Path) -> None:
    server = roost_server()
    env = server.client_env(tmp_path)
    del env["ROOST_ENDPOINT"]
    code = tmp_path / "code"
    code.mkdir()
    (code / "jobs.py").write_text(textwrap.dedent(SLOW_AND_FAILING))

    wrote = succeeded(roost(env, "config", "init", "--endpoint", server.grpc_endpoint, "-p", "demo"), server)
    assert wrote.startswith(f"wrote {tmp_path / 'client.yaml'}: endpoint {server.grpc_endpoint} (insecure)")

    # The project the config names does not exist yet.
    missing = failed(roost(env, "register", str(EXAMPLES / "basics.py"), "--version", "v1"))
    assert "CreateUploadLocation failed at" in missing
    assert "NOT_FOUND" in missing and "demo" in missing

    assert succeeded(roost(env, "create", "project", "demo", "--description", "e2e"), server) == (
        "created project demo\n"
    )
    projects = json.loads(succeeded(roost(env, "get", "projects", "-o", "json"), server))
    assert {"id": "demo", "name": "demo", "description": "e2e"} in projects
    assert "ALREADY_EXISTS" in failed(roost(env, "create", "project", "demo"))

    succeeded(roost(env, "register", str(EXAMPLES / "basics.py"), "--version", "v1"), server)
    workflows = json.loads(succeeded(roost(env, "get", "workflows", "-o", "json"), server))
    assert {"name": "basics.wf"} in workflows
    versions = yaml.safe_load(succeeded(roost(env, "get", "launchplans", "basics.wf", "-o", "yaml"), server))
    assert [(row["name"], row["version"]) for row in versions] == [("basics.wf", "v1")]
    table = succeeded(roost(env, "get", "launchplans", "basics.wf"), server)
    assert "basics.wf" in table and "v1" in table
    activated = succeeded(
        roost(env, "update", "launchplan", "basics.wf", "--version", "v1", "--activate"), server
    )
    assert activated == "launch plan basics.wf@v1 is now active\n"
    unknown = failed(roost(env, "update", "launchplan", "basics.wf", "--version", "v9", "--deactivate"))
    assert "UpdateLaunchPlan failed at" in unknown and "NOT_FOUND" in unknown and "v9" in unknown

    # Without --wait and without a terminal, `run --remote` starts the execution and returns.
    started = roost(env, "run", "--remote", "--name", "first", str(EXAMPLES / "basics.py"), "wf", "--x", "2")
    succeeded(started, server)
    assert "execution demo/development/first started" in started.stderr
    execution = wait_for(env, server, "first")
    assert execution["closure"]["phase"] == "SUCCEEDED"
    nodes = json.loads(succeeded(roost(env, "get", "execution", "first", "--nodes", "-o", "json"), server))
    assert {node["phase"] for node in nodes} == {"SUCCEEDED"}
    assert len(nodes) >= 3
    nodes_table = succeeded(roost(env, "get", "execution", "first", "--nodes"), server)
    assert "nodes of first" in nodes_table and "SUCCEEDED" in nodes_table

    relaunched = succeeded(roost(env, "relaunch", "first"), server)
    assert relaunched.startswith("relaunched first as demo/development/")
    again = relaunched.strip().rpartition("/")[2]
    assert wait_for(env, server, again)["closure"]["phase"] == "SUCCEEDED"

    # A task that raises: the execution fails and the CLI says why.
    broken = failed(roost(env, "run", "--remote", "--wait", "--no-progress", str(code / "jobs.py"), "broken"))
    assert "failed" in broken and "cannot handle 3" in broken

    # A long task, terminated; terminating it again is refused.
    succeeded(roost(env, "run", "--remote", "--name", "sleepy", str(code / "jobs.py"), "slow"), server)
    assert succeeded(roost(env, "terminate", "sleepy", "--cause", "enough"), server) == (
        "terminating demo/development/sleepy\n"
    )
    assert wait_for(env, server, "sleepy")["closure"]["phase"] == "ABORTED"
    refused = failed(roost(env, "terminate", "sleepy"))
    assert "TerminateExecution failed at" in refused and "FAILED_PRECONDITION" in refused

    executions = json.loads(succeeded(roost(env, "get", "executions", "-o", "json"), server))
    assert {row["name"]: row["phase"] for row in executions}["sleepy"] == "ABORTED"
    assert "NOT_FOUND" in failed(roost(env, "get", "execution", "nope"))


def wait_for(env: dict[str, str], server: RoostServer, name: str, timeout: float = 120.0) -> dict[str, Any]:
    """`roost get execution NAME -o json`, polled until the execution ends."""
    deadline = time.monotonic() + timeout
    while True:
        shown = json.loads(succeeded(roost(env, "get", "execution", name, "-o", "json"), server))[0]
        if shown["closure"]["phase"] in ("SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"):
            return dict(shown)
        assert time.monotonic() < deadline, f"{name} did not end in {timeout}s:\n{server.log()[-4000:]}"
        time.sleep(0.3)


def test_an_unreachable_admin_is_named(tmp_path: Path) -> None:
    env = {"ROOST_ENDPOINT": "127.0.0.1:9", "ROOST_CLIENT_CONFIG": str(tmp_path / "none.yaml"), "PATH": ""}
    result = subprocess.run(
        [tool("roost"), "get", "projects"], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert result.returncode != 0
    assert "ListProjects failed at 127.0.0.1:9: UNAVAILABLE" in result.stderr


def test_ctrl_c_stops_the_server_cleanly(roost_server: Starter) -> None:
    server = roost_server()
    assert server.stop() == 0, server.log()[-8000:]
    assert "stopping..." in server.log()


def test_sigusr1_prints_every_threads_stack_and_the_server_goes_on(
    roost_server: Starter, tmp_path: Path
) -> None:
    server = roost_server()
    server.process.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 30
    # The main thread's stack ends in `start`: in its wait, or still printing the banner the harness waited for.
    while not re.search(r"roost_admin/cli\.py\", line \d+ in start\n", server.log()):
        assert time.monotonic() < deadline, f"no stacks printed:\n{server.log()[-4000:]}"
        time.sleep(0.1)
    assert "most recent call first" in server.log()
    result = roost(server.client_env(tmp_path), "get", "projects", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert server.stop() == 0, server.log()[-8000:]


def test_the_harness_reads_a_servers_stacks(roost_server: Starter) -> None:
    # What a flytekit test whose executions time out prints first (flytekit_support.py).
    stacks = roost_server().stacks("no such process")
    assert "_wait_until (roost_admin/cli.py" in stacks, stacks
    assert '"roost-http"' in stacks, stacks


CALLS_LAUNCH_PLANS = """
    from roost import LaunchPlan, task, workflow


    @task
    def scaled(value: float, by: float) -> float:
        return value * by


    @workflow
    def scale(value: float, by: float = 2.0) -> float:
        return scaled(value=value, by=by)


    tripled = LaunchPlan.get_or_create(scale, "calls.tripled", fixed_inputs={"by": 3.0})


    @workflow
    def chain(value: float = 1.0) -> float:
        halved = LaunchPlan.get_or_create(scale, "calls.halved", fixed_inputs={"by": 0.5})
        return halved(value=tripled(value=value))
"""

READS_FILES = """
    from pathlib import Path

    import pandas as pd

    from roost import Directory, File, StructuredDataset, task, workflow


    @task
    def describe(doc: File, folder: Directory, table: StructuredDataset) -> str:
        names = sorted(p.relative_to(folder.download()).as_posix() for p in Path(folder).rglob("*") if p.is_file())
        rows = len(table.open(pd.DataFrame).all())
        return f"{Path(doc).read_text()} | {', '.join(names)} | {rows} | {doc.path} | {folder.path}"


    @workflow
    def wf(doc: File, folder: Directory, table: StructuredDataset) -> str:
        return describe(doc=doc, folder=folder, table=table)
"""


def write_code(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text))
    return folder


@pytest.fixture(scope="module")
def shared_server(module_roost_server: Starter) -> RoostServer:
    """One `roost start` on the embedded defaults for the client tests that do not need their own."""
    return module_roost_server()


def run_remote_json(env: dict[str, str], server: RoostServer, *args: str, cwd: Path) -> Any:
    """`roost run --remote --wait -o json ARGS`: the outputs, after checking that it succeeded."""
    ran = roost(env, "run", "--remote", "--wait", "--no-progress", "-o", "json", *args, cwd=cwd)
    return json.loads(succeeded(ran, server))


def test_a_workflow_calling_launch_plans_registers_and_runs_remotely(
    shared_server: RoostServer, tmp_path: Path
) -> None:
    env = shared_server.client_env(tmp_path)
    code = write_code(tmp_path / "code", {"calls.py": CALLS_LAUNCH_PLANS})
    # `run --remote` registers what the workflow needs, in order, before it launches.
    assert run_remote_json(env, shared_server, "calls.py", "chain", "--value", "4", cwd=code) == {"o0": 6.0}
    registered = succeeded(roost(env, "register", ".", "--version", "calls-v1", cwd=code), shared_server)
    assert "1 task(s), 2 workflow(s), 4 launch plan(s)" in registered
    plans = json.loads(succeeded(roost(env, "get", "launchplans", "-o", "json"), shared_server))
    assert {"name": "calls.tripled"} in plans and {"name": "calls.halved"} in plans


def test_register_stops_at_a_file_that_does_not_load_unless_told_to_skip_it(
    shared_server: RoostServer, tmp_path: Path
) -> None:
    env = {**shared_server.client_env(tmp_path), "ROOST_PROJECT": "skips"}
    succeeded(roost(env, "create", "project", "skips"), shared_server)
    code = write_code(
        tmp_path / "code",
        {
            "good_jobs.py": SLOW_AND_FAILING,
            "needs_missing.py": "import not_installed_anywhere\n",
        },
    )
    refused = failed(roost(env, "register", ".", cwd=code))
    assert refused.splitlines() == [
        "Error: 1 of 2 file(s) under . failed to load, so nothing was registered:",
        "  needs_missing.py: ModuleNotFoundError: No module named 'not_installed_anywhere' (needs_missing.py, line 1)",
        "Fix them, or pass --skip-errors to go on without them.",
    ]
    assert json.loads(succeeded(roost(env, "get", "workflows", "-o", "json"), shared_server)) == []

    skipped = roost(env, "register", ".", "--skip-errors", cwd=code)
    assert "2 task(s), 2 workflow(s), 2 launch plan(s)" in succeeded(skipped, shared_server)
    assert skipped.stderr.splitlines() == [
        "skipped 1:",
        "  needs_missing.py: ModuleNotFoundError: No module named 'not_installed_anywhere' (needs_missing.py, line 1)",
    ]
    workflows = json.loads(succeeded(roost(env, "get", "workflows", "-o", "json"), shared_server))
    assert sorted(row["name"] for row in workflows) == ["good_jobs.broken", "good_jobs.slow"]


@pytest.mark.parametrize("storage", ["embedded", "s3"])
def test_local_files_and_folders_are_uploaded_for_a_remote_run(
    storage: str, roost_server: Starter, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if storage == "s3":
        seaweed = request.getfixturevalue("seaweed")
        server = roost_server(
            storage=f"s3://roost/{tmp_path.name}",
            settings={"storage_options": {"s3": seaweed.store_config()}},
        )
        prefix = f"s3://roost/{tmp_path.name}/uploads/flytesnacks/development/"
    else:
        server = request.getfixturevalue("shared_server")
        # The local store's uploads are named by their plain paths, as flytekit records local data.
        prefix = str(server.data_dir / "data" / "uploads" / "flytesnacks" / "development") + "/"
    env = server.client_env(tmp_path)
    code = write_code(tmp_path / "code", {"reads_files.py": READS_FILES})
    (tmp_path / "notes.txt").write_text("hello from the client")
    pages = tmp_path / "pages"
    (pages / "part").mkdir(parents=True)
    (pages / "a.txt").write_text("a")
    (pages / "part" / "b.txt").write_text("b")
    (tmp_path / "table.csv").write_text("n\n1\n2\n3\n")
    outputs = run_remote_json(
        env,
        server,
        "reads_files.py",
        "wf",
        "--doc",
        "../notes.txt",
        "--folder",
        "../pages",
        "--table",
        "../table.csv",
        cwd=code,
    )
    text, names, rows, doc_uri, folder_uri = outputs["o0"].split(" | ")
    assert (text, names, rows) == ("hello from the client", "a.txt, part/b.txt", "3")
    # The literals hold the admin's own URIs of the uploads, not paths on the client.
    assert doc_uri.startswith(prefix) and doc_uri.endswith("/notes.txt"), doc_uri
    assert folder_uri.startswith(prefix) and str(tmp_path) not in folder_uri, folder_uri
