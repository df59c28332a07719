"""Every runnable example of docs/porting-from-flytekit.md runs with `roost run` and gives what the guide says."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from test_examples import roost_run_env

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "porting-from-flytekit.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def runnable_blocks() -> list[tuple[str, str]]:
    """``(id, code)`` of every Python block of the guide that starts with ``# run:``."""
    blocks = [code for code in BLOCK.findall(GUIDE.read_text()) if code.startswith("# run:")]
    return [(f"block{i}-{code.splitlines()[0].split()[2]}", code) for i, code in enumerate(blocks)]


def directive(code: str, name: str) -> str | None:
    found = re.search(rf"^# {name}: (.*)$", code, re.MULTILINE)
    return found.group(1) if found else None


def test_the_guide_has_runnable_examples():
    assert len(runnable_blocks()) >= 10
    for _, code in runnable_blocks():
        assert (directive(code, "expect") is None) != (directive(code, "expect-failure") is None), code


@pytest.mark.parametrize(("block", "code"), runnable_blocks(), ids=[b for b, _ in runnable_blocks()])
def test_a_guide_example_runs(block, code, tmp_path):
    script = tmp_path / f"guide_{block.split('-')[0]}.py"
    script.write_text(code)
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("roost")),
            *("run", "--no-progress", "-o", "json", script.name),
            *shlex.split(directive(code, "run") or ""),
        ],
        capture_output=True,
        text=True,
        env=roost_run_env(tmp_path),
        timeout=300,
        cwd=tmp_path,
        check=False,
    )
    failure = directive(code, "expect-failure")
    if failure is not None:
        assert result.returncode != 0, result.stdout
        assert failure in result.stderr, result.stderr
    else:
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == json.loads(directive(code, "expect") or "null")
