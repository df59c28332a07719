"""Warm task processes on `roost start`: a chain of Roost tasks runs forked from a warm server by default, each
task in a fresh process (after the first, forked from a warm child that imported the chain's module), and cold when
the handler's switch is off."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest
from conftest import Starter

from roost_admin.testing.server import tool

CHAIN = """
    import os
    from pathlib import Path

    from roost import task, workflow

    IMPORTED_IN = os.getpid()


    @task
    def lineage(previous: str) -> str:
        # Whether this task's supervisor was forked from a warm server, what an earlier task left behind, and
        # whether this module was imported before the task's process was forked (by its code's warm child).
        leaked = os.environ.get("ROOST_E2E_LEAK", "none")
        os.environ["ROOST_E2E_LEAK"] = "leaked"
        stat = Path(f"/proc/{os.getppid()}/stat").read_text()
        grandparent = stat.rpartition(")")[2].split()[1]
        command = Path(f"/proc/{grandparent}/cmdline").read_bytes().split(b"\\0")
        started = "warm" if any(part.endswith(b"_warm.py") for part in command) else "cold"
        imported = "here" if IMPORTED_IN == os.getpid() else "before"
        return f"{previous}/{started}:{leaked}:{imported}"


    @workflow
    def chain() -> str:
        return lineage(previous=lineage(previous=lineage(previous="")))
"""


@pytest.mark.parametrize(
    ("switch", "expected"),
    # Switched on explicitly: `nox -s e2e_cold` switches it off for every other server.
    [({"ROOST_WARM_PROCESSES": "1"}, "warm"), ({"ROOST_WARM_PROCESSES": "0"}, "cold")],
)
def test_a_chain_runs_warm_by_default_and_cold_when_switched_off(
    roost_server: Starter, tmp_path: Path, switch: dict[str, str], expected: str
) -> None:
    server = roost_server(env=switch)
    env = server.client_env(tmp_path)
    code = tmp_path / "code"
    code.mkdir()
    (code / "chain.py").write_text(textwrap.dedent(CHAIN))
    ran = subprocess.run(
        [tool("roost"), "run", "--remote", "--wait", "--no-progress", "-o", "json", "chain.py", "chain"],
        capture_output=True,
        text=True,
        env=env,
        cwd=code,
        timeout=240,
        check=False,
    )
    assert ran.returncode == 0, f"{ran.stderr}\nserver:\n{server.log()[-6000:]}"
    tasks = json.loads(ran.stdout)["o0"].split("/")[1:]
    assert [seen.rpartition(":")[0] for seen in tasks] == [f"{expected}:none"] * 3, tasks
    # Warm, the first task comes from the server while its code's warm child imports the module, and the last from
    # that child; cold, each task imports it.
    imported = [seen.rpartition(":")[2] for seen in tasks]
    assert (imported[0], imported[2]) == ("here", "before" if expected == "warm" else "here"), tasks
