"""`roost recover` against `roost start`: a failed remote run recovered after its cause went away, and resumed on
an edited version, with `--dry-run` predicting what the resume reuses; the runs are counted by the tasks' notes."""

from __future__ import annotations

import json
import textwrap
from collections import Counter
from pathlib import Path

from conftest import Starter
from test_roost_cli import failed, roost, succeeded, wait_for

STEPS = """
    import os

    from roost import task, workflow


    def _note(log, what):
        with open(log, "a") as out:
            out.write(what + "\\n")


    @task(deterministic=True)
    def one(log: str, x: int) -> int:
        _note(log, "one")
        return x + 1


    @task(deterministic=True)
    def two(log: str, flag: str, x: int) -> int:
        _note(log, "two")
        if os.path.exists(flag):
            raise RuntimeError("the flag is up")
        return x + TWO


    @task(deterministic=True)
    def three(log: str, x: int) -> int:
        _note(log, "three")
        return x + 3


    @workflow
    def chain(log: str, flag: str, x: int) -> int:
        return three(log=log, x=two(log=log, flag=flag, x=one(log=log, x=x)))
"""


def _runs(log: Path) -> Counter[str]:
    lines = log.read_text().splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return Counter(lines)


def test_recover_and_resume_from_the_cli(roost_server: Starter, tmp_path: Path) -> None:
    server = roost_server()
    env = server.client_env(tmp_path)
    code = tmp_path / "code"
    code.mkdir()
    module = code / "steps.py"
    module.write_text(textwrap.dedent(STEPS).replace("TWO", "2"))
    log, flag = tmp_path / "ran.log", tmp_path / "flag"
    flag.touch()
    inputs = ["--log", str(log), "--flag", str(flag), "--x", "0"]
    run = ["run", "--remote", "--name", "first", "--wait", "--no-progress", str(module), "chain", *inputs]
    assert "the flag is up" in failed(roost(env, *run, cwd=code))
    assert _runs(log) == Counter(one=1, two=1)
    flag.unlink()

    recovered = succeeded(roost(env, "recover", "first", cwd=code), server)
    assert recovered.startswith("recovered first as flytesnacks/development/")
    name = recovered.strip().rpartition("/")[2]
    assert wait_for(env, server, name)["closure"]["phase"] == "SUCCEEDED"
    assert _runs(log) == Counter(two=1, three=1)

    module.write_text(textwrap.dedent(STEPS).replace("TWO", "20"))
    succeeded(roost(env, "register", str(module), "--version", "v2", cwd=code), server)
    plan = json.loads(
        succeeded(roost(env, "recover", "first", "--latest", "--dry-run", "-o", "json", cwd=code), server)
    )
    assert [(row["node"], row["action"], row["reason"]) for row in plan] == [
        ("n0", "reuse", "unchanged"),
        ("n1", "re-run", "task 'steps.two' changed"),
        ("n2", "re-run", "a node it depends on re-runs"),
    ]
    resumed = succeeded(roost(env, "recover", "first", "--version", "v2", cwd=code), server)
    assert resumed.startswith("resumed first on version v2 as flytesnacks/development/")
    name = resumed.strip().rpartition("/")[2]
    assert wait_for(env, server, name)["closure"]["phase"] == "SUCCEEDED"
    assert _runs(log) == Counter(two=1, three=1)

    refused = failed(roost(env, "recover", "first", "--dry-run", cwd=code))
    assert "--dry-run plans a resume: give --version or --latest" in refused
    missing = failed(roost(env, "recover", "nope", cwd=code))
    assert "RecoverExecution failed at" in missing and "NOT_FOUND" in missing and "nope" in missing
