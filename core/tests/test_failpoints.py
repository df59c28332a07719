"""Failpoints: off unless armed by ROOST_FAILPOINT; armed, the process exits on the named point's n-th hit."""

from __future__ import annotations

import os
import subprocess
import sys

from roost_core.failpoints import EXIT_CODE

PROGRAM = """
from roost_core.failpoints import failpoint
for i in range(1, 4):
    failpoint("other")
    failpoint("here")
    print("passed", i, flush=True)
"""


def run(spec: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ROOST_FAILPOINT"}
    if spec is not None:
        env["ROOST_FAILPOINT"] = spec
    return subprocess.run(
        [sys.executable, "-c", PROGRAM], check=False, env=env, capture_output=True, text=True, timeout=60
    )


def test_an_unarmed_failpoint_does_nothing():
    done = run(None)
    assert (done.returncode, done.stdout.split("\n")[-2]) == (0, "passed 3")


def test_an_armed_failpoint_exits_at_its_nth_hit():
    done = run("here:2")
    assert done.returncode == EXIT_CODE
    assert done.stdout == "passed 1\n"
    assert done.stderr == "roost failpoint here hit 2: exiting\n"


def test_the_hit_count_defaults_to_the_first():
    done = run("here")
    assert (done.returncode, done.stdout) == (EXIT_CODE, "")


def test_a_malformed_spec_is_refused_naming_it():
    done = run("here:twice")
    assert done.returncode == 1
    assert "ROOST_FAILPOINT='here:twice': expected name or name:hit-count" in done.stderr
