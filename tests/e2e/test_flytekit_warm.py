"""Warm flytekit tasks on `roost start` (flytekit 1.16.31): a task that crashes its process (``os._exit``, a
segmentation fault) fails only its own node, and the flytekit tasks after it still start from the same warm
server (cold under `nox -s e2e_cold`); a map task's indices find the task's module imported by their warm batch,
and the fast-registered code in their own working directory, and so do a chain's tasks after the first, from their
code's warm child. Scripts run with flytekit's Python beside Roost's fork
server module show what its warm-up does there: a warm eager task's exit does not hang on flytekit's eager
controller, a warm batch converts a map's inputs once for all its indices, and an attempt finds flytekit's first task
definition done."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import WARM
from flytekit_env import FlytekitEnv
from flytekit_support import Flytekit, execution, succeeded

import roost_core.handlers

pytest_plugins = ["flytekit_support"]

VERSION = "warm-v1"
TIMEOUT = 150
"""Seconds FlyteRemote.wait waits for each execution, and the driver for all of them."""
CRASHES = {
    "exit": ("exited with code 3", "exited with code 3"),
    "segfault": ("was killed by signal SIGSEGV", "exited with code 245"),
}
"""How the task crashes → what its node's error says, warm and cold. Warm, the task runs in the process forked
for it; cold, pyflyte-fast-execute runs it in a child and exits with that child's status, a signal's -11 as 245."""


@pytest.fixture(scope="module")
def registered(flytekit: Flytekit) -> None:
    """`pyflyte register` of crashes.py."""
    registration: subprocess.CompletedProcess[str] = flytekit.register("crashes.py", VERSION)
    assert registration.returncode == 0, flytekit.explain(registration)


@pytest.mark.usefixtures("registered")
def test_a_crashing_flytekit_task_fails_only_its_node_and_the_next_task_starts_warm(
    flytekit: Flytekit,
) -> None:
    launches = [
        {"key": how, "kind": "workflow", "name": "crashes.crash_beside_lineage", "inputs": {"how": how}}
        for how in CRASHES
    ]
    crashed = flytekit.drive({"version": VERSION, "timeout": TIMEOUT, "launch": launches}, TIMEOUT)
    lineages = set()
    for how, (warm, cold) in CRASHES.items():
        result = execution(flytekit, crashed, how)
        assert result["phase"] == "FAILED", result
        assert f"task 'crashes.crash' {warm if WARM else cold}" in result["error"], result["error"]
        nodes = result["nodes"]
        assert nodes["n0"]["phase"] == "FAILED", nodes
        assert nodes["n1"]["phase"] == "SUCCEEDED", nodes
        lineages.add(nodes["n1"]["outputs"]["o0"])
    after = flytekit.drive(
        {
            "version": VERSION,
            "timeout": TIMEOUT,
            "launch": [{"key": "after", "kind": "task", "name": "crashes.lineage", "inputs": {}}],
        },
        TIMEOUT,
    )
    lineages.add(succeeded(flytekit, after, "after")["outputs"]["o0"])
    # One server served the tasks beside the crashes and the one after them.
    [lineage] = lineages
    assert lineage.startswith("warm from ") if WARM else lineage == "cold", lineage


@pytest.mark.usefixtures("registered")
def test_map_indices_find_their_module_imported_by_the_batch_and_the_code_in_their_folder(
    flytekit: Flytekit,
) -> None:
    xs = list(range(12))
    launch = {"key": "origins", "kind": "workflow", "name": "crashes.code_origins", "inputs": {"xs": xs}}
    mapped = flytekit.drive({"version": VERSION, "timeout": TIMEOUT, "launch": [launch]}, TIMEOUT)
    # Warm, each batch fetched and imported the code once; cold, each index did. Either way each index has its
    # own copy of the bundle in its working directory, and the module was imported in a folder holding it.
    expected = "before:1:beside" if WARM else "here:1:beside"
    assert succeeded(flytekit, mapped, "origins")["outputs"] == {"o0": [expected] * len(xs)}


@pytest.mark.usefixtures("registered")
def test_a_chains_later_tasks_find_their_module_imported_by_their_codes_warm_child(
    flytekit: Flytekit,
) -> None:
    launch = {"key": "chain", "kind": "workflow", "name": "crashes.code_origin_chain", "inputs": {}}
    chained = flytekit.drive({"version": VERSION, "timeout": TIMEOUT, "launch": [launch]}, TIMEOUT)
    origins = succeeded(flytekit, chained, "chain")["outputs"]
    # Warm, the first task of the bundle comes from the server while a child of it fetches the bundle and imports
    # the module (the tasks of the tests before may have started that child already); the tasks after it come from
    # that child. Cold, each task imports the module itself. Each has its own copy of the bundle in its working
    # directory.
    assert origins["o3"] == ("before:1:beside" if WARM else "here:1:beside"), origins
    assert set(origins.values()) <= ({"here:1:beside", "before:1:beside"} if WARM else {"here:1:beside"}), (
        origins
    )


@pytest.mark.usefixtures("registered")
def test_flytekit_attempts_leave_nothing_in_the_servers_temporary_folder(flytekit: Flytekit) -> None:
    # flytekit makes folders in a task process's temporary folder (sandboxes at import and for each task) and never
    # removes them, nor do tasks their scratch files: an attempt's own temporary folder goes when its node ends.
    def run(key: str) -> list[str]:
        origins = {
            "key": f"{key}-map",
            "kind": "workflow",
            "name": "crashes.code_origins",
            "inputs": {"xs": [1, 2]},
        }
        launches = [
            origins,
            {"key": f"{key}-scratch", "kind": "task", "name": "crashes.scratch", "inputs": {}},
        ]
        done = flytekit.drive({"version": VERSION, "timeout": TIMEOUT, "launch": launches}, TIMEOUT)
        succeeded(flytekit, done, f"{key}-map")
        scratch: list[str] = succeeded(flytekit, done, f"{key}-scratch")["outputs"]["o0"]
        return scratch

    warm_servers = f"roost-{os.getuid()}-warm-"

    def settled() -> set[str]:
        """What the server's temporary folder holds once no attempt's folder is left there (a warm fork server's own
        folder stays while that server runs)."""
        deadline = time.monotonic() + 30

        def attempts_left() -> list[str]:
            names = [path.name for path in flytekit.temp.iterdir()]
            return [name for name in names if name.startswith("roost-") and not name.startswith(warm_servers)]

        while attempts_left():
            assert time.monotonic() < deadline, attempts_left()
            time.sleep(0.1)
        return {path.name for path in flytekit.temp.iterdir()}

    run("first")  # a warm server starting makes flytekit's import-time folders, in its own folder
    before = settled()
    # Nothing of flytekit's in the server's temporary folder itself: not the fork server's import-time sandboxes,
    # nor a map batch's code folder, nor anything of an attempt's.
    assert not any(name.startswith("flyte") for name in before), sorted(before)
    scratch = run("second")
    # The scratch files were in the attempt's own temporary folder, inside the server's, warm too (where flytekit
    # made the working directory's sandbox in the server, before the fork).
    attempt_folders = {Path(path).relative_to(flytekit.temp).parts[0] for path in scratch}
    assert len(attempt_folders) == 1, scratch
    assert attempt_folders.pop().startswith(f"roost-{os.getuid()}-"), scratch
    assert settled() == before
    assert not any(Path(path).exists() for path in scratch)


WARM_MODULE = textwrap.dedent(
    """
    import importlib.util, sys

    import flytekit.bin.entrypoint as entry

    spec = importlib.util.spec_from_file_location("_roost_warm", sys.argv[1])
    warm = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(warm)
    WARM = sys.argv[2] == "warm"
    """
)
"""What each script below starts with: Roost's fork server module (``_warm.py``, argv[1]) loaded as ``warm``, flytekit's
entry point as ``entry``, and ``WARM`` when argv[2] is ``warm`` (the script then does what the warm server does)."""


def run_script(
    flytekit_env: FlytekitEnv, script: str, mode: str, *args: str
) -> subprocess.CompletedProcess[str]:
    """``script`` (after :data:`WARM_MODULE`) run by flytekit's interpreter with ``_warm.py``, ``mode`` and ``args``
    as its arguments."""
    warm = Path(roost_core.handlers.__file__).with_name("_warm.py")
    return subprocess.run(
        [flytekit_env.python, "-c", WARM_MODULE + textwrap.dedent(script), str(warm), mode, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def reported(ran: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """What a script that ended well printed last, as JSON."""
    assert ran.returncode == 0, ran.stderr
    report: dict[str, Any] = json.loads(ran.stdout.splitlines()[-1])
    return report


EAGER_EXIT = """
    import asyncio, atexit, threading, time

    if WARM:
        warm._warm_up_flytekit(entry)

    from flytekit.core.worker_queue import Controller
    from flytekit.utils.asyn import loop_manager

    publishing = threading.Event()

    def poll():
        async def publish_deck():
            publishing.set()
            await asyncio.sleep(3600)

        loop_manager.run_sync(publish_deck)

    # A Controller's order: its exit handler first, then (at its first run_sync) its thread's loop runner's.
    stop = threading.Event()
    thread = threading.Thread(target=poll, name="controller-thread", daemon=True)
    atexit.register(Controller._close, stopping_condition=stop, runner=thread)
    thread.start()
    publishing.wait(60)
    start = time.monotonic()
    atexit._run_exitfuncs()  # as a warm task process ends
    print(f"exit handlers ended after {time.monotonic() - start:.0f} s", flush=True)
"""
"""An eager task's end caught while its controller thread publishes its deck: the loop runner's exit handler stops
the loop under the publishing coroutine, then the Controller's joins the thread that waits on it."""


def test_a_warm_eager_tasks_exit_does_not_wait_forever_for_its_controller(flytekit_env: FlytekitEnv) -> None:
    ended = run_script(flytekit_env, EAGER_EXIT, "warm")
    assert ended.returncode == 0, ended.stderr
    assert "exit handlers ended after 10 s" in ended.stdout, ended.stdout + ended.stderr
    assert (
        "roost: flytekit's eager controller thread did not stop within 10 s of the task's end" in ended.stderr
    )


MAP_INPUTS = """
    import json, os
    from pathlib import Path

    from flyteidl.core import literals_pb2
    from flytekit.models import literals

    folder = Path(sys.argv[3])
    (folder / "squares.py").write_text(
        "from flytekit import task\\n\\n@task\\ndef square(x: int) -> int:\\n    return x * x\\n"
    )
    sys.path.insert(0, str(folder))

    def write_inputs(items):
        inputs = literals_pb2.LiteralMap()
        for item in items:
            inputs.literals["x"].collection.literals.add().scalar.primitive.integer = item
        (folder / "inputs.pb").write_bytes(inputs.SerializeToString())

    def command(output):
        args = ["--inputs", str(folder / "inputs.pb"), "--output-prefix", str(folder / output)]
        args += ["--raw-output-data-prefix", str(folder / "raw")]
        args += ["--resolver", "flytekit.core.array_node_map_task.ArrayNodeMapTaskResolver", "--"]
        return args + ["vars", "", "resolver", "flytekit.core.python_auto_container.default_task_resolver",
                       "task-module", "squares", "task-name", "square"]

    write_inputs(range(200))
    if WARM:  # as the warm server, then its batch child before its first index
        warm._warm_up_flytekit(entry)
        entry.__roost_warm_task__(["pyflyte-map-execute", *command("first")])

    made = literals.Literal.from_flyte_idl
    conversions = []

    def counted(pb2_object):
        conversions.append(1)
        return made(pb2_object)

    literals.Literal.from_flyte_idl = counted

    def index(number, output):
        # An index forked from this process, as a batch child forks them: its result, and how many literals it made.
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.environ.update({"BATCH_JOB_ARRAY_INDEX_VAR_NAME": "INDEX", "INDEX": str(number)})
            try:
                entry.map_execute_task_cmd.main(args=command(output), standalone_mode=False)
            finally:
                os.write(write, str(len(conversions)).encode())
                os._exit(0)
        os.close(write)
        made_here = int(os.read(read, 64))
        os.waitpid(pid, 0)
        outputs = literals_pb2.LiteralMap.FromString((folder / output / "outputs.pb").read_bytes())
        return {"o0": outputs.literals["o0"].scalar.primitive.integer, "conversions": made_here}

    results = {str(number): index(number, f"index-{number}") for number in (0, 7, 199)}
    write_inputs([5, 6, 7])  # other inputs than the batch converted
    results["changed"] = index(1, "changed")
    print(json.dumps(results))
"""
"""Indices of a map over 200 integers forked from a (warm or cold) batch child, then one index after its inputs
changed; prints each index's output and the literals it converted itself."""


@pytest.mark.parametrize("mode", ["warm", "cold"])
def test_a_warm_batch_converts_a_maps_inputs_once_for_all_its_indices(
    flytekit_env: FlytekitEnv, tmp_path: Path, mode: str
) -> None:
    results = reported(run_script(flytekit_env, MAP_INPUTS, mode, str(tmp_path)))
    assert {key: result["o0"] for key, result in results.items()} == {
        "0": 0,
        "7": 49,
        "199": 199 * 199,
        "changed": 36,
    }
    # Cold, each index converts the whole list; warm, only its own element (and the outputs it writes).
    per_index = {key: result["conversions"] for key, result in results.items() if key != "changed"}
    if mode == "warm":
        assert all(conversions < 10 for conversions in per_index.values()), per_index
    else:
        assert all(conversions >= 200 for conversions in per_index.values()), per_index
    assert results["changed"]["conversions"] >= 3


TASK_DEFINITION = """
    import json, os, re

    from flytekit.core.context_manager import FlyteEntities

    class Declarations(list):
        # flytekit's list of declared entities, remembering the name of each one ever added to it.
        names = []

        def append(self, entity):
            self.names.append(entity.name)
            super().append(entity)

    FlyteEntities.entities = Declarations()
    if WARM:
        warm._warm_up_flytekit(entry)
    server = {"defined": list(FlyteEntities.entities.names), "declared": len(FlyteEntities.entities)}
    sys.path.insert(0, sys.argv[3])
    read, write = os.pipe()
    if os.fork() == 0:  # an attempt: it imports its task module
        compiled = len(re._cache)
        import tasks
        os.write(write, json.dumps({"compiled": len(re._cache) - compiled, "declared": len(FlyteEntities.entities)}).encode())
        os._exit(0)
    os.close(write)
    print(json.dumps({"server": server, "attempt": json.loads(os.read(read, 1024))}))
"""
"""The tasks a (warm or cold) server defined and left declared, then a task module imported in a process forked
from it: the regular expressions it compiled (flytekit's docstring parsers compile theirs on the first task
definition) and the entities declared."""
TASKS = '''from flytekit import task


@task
def double(x: int, note: str) -> int:
    """Twice x.

    :param x: a number
    :param note: ignored
    """
    return 2 * x
'''
"""The attempt's task module."""


@pytest.mark.parametrize("mode", ["warm", "cold"])
def test_an_attempt_finds_flytekits_first_task_definition_done_and_only_its_own_entities(
    flytekit_env: FlytekitEnv, tmp_path: Path, mode: str
) -> None:
    (tmp_path / "tasks.py").write_text(TASKS)
    seen = reported(run_script(flytekit_env, TASK_DEFINITION, mode, str(tmp_path)))
    server, attempt = seen["server"], seen["attempt"]
    # The warm server defined its task whole, and took it back: the attempt declared only its own.
    defined = [name.rpartition(".")[2] for name in server["defined"]]
    assert defined == (["warm_up"] if mode == "warm" else []), server
    assert server["declared"] == 0
    assert attempt["declared"] == 1
    if mode == "warm":
        assert attempt["compiled"] == 0, attempt
    else:
        assert attempt["compiled"] > 0, attempt
