"""Warm task processes on `roost start`: a chain of Roost tasks runs forked from a warm server by default, each
task in a fresh process, and cold when the handler's switch is off."""

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


    @task
    def lineage(previous: str) -> str:
        # Whether this task's supervisor was forked from a warm server, and what an earlier task left behind.
        leaked = os.environ.get("ROOST_E2E_LEAK", "none")
        os.environ["ROOST_E2E_LEAK"] = "leaked"
        stat = Path(f"/proc/{os.getppid()}/stat").read_text()
        grandparent = stat.rpartition(")")[2].split()[1]
        command = Path(f"/proc/{grandparent}/cmdline").read_bytes().split(b"\\0")
        started = "warm" if any(part.endswith(b"_warm.py") for part in command) else "cold"
        return f"{previous}/{started}:{leaked}"


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
    assert json.loads(ran.stdout) == {"o0": f"/{expected}:none" * 3}
