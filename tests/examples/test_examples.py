"""Every example under examples/ runs with `roost run`, as a user would run it, and gives the right answer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from example_cases import ANSWERS, ARGUMENTS, EXAMPLES, FILE_LINES, PLUGIN_EXAMPLES


def roost_run_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a `roost run`: a cache and a data folder of the test's own."""
    return {**os.environ, "ROOST_CACHE_DIR": str(tmp_path / "cache"), "XDG_DATA_HOME": str(tmp_path / "data")}


def roost_run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = roost_run_env(tmp_path)
    roost = Path(sys.executable).with_name("roost")
    return subprocess.run(
        [str(roost), "run", "--no-progress", "-o", "json", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=EXAMPLES,
        check=False,
    )


def test_every_example_is_covered():
    plugins = tuple(PLUGIN_EXAMPLES)
    assert sorted(p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith(plugins)) == sorted(
        ARGUMENTS
    )


@pytest.mark.parametrize("example", sorted(ARGUMENTS))
def test_example_runs(example, tmp_path):
    result = roost_run(tmp_path, example, *ARGUMENTS[example])
    assert result.returncode == 0, result.stderr
    outputs = json.loads(result.stdout)
    if example in ANSWERS:
        assert outputs == ANSWERS[example]
    else:
        count, kept = outputs["o0"], Path(outputs["o1"])
        assert count == FILE_LINES
        assert kept.read_text().count("\n") == FILE_LINES
        assert str(kept).startswith(str(tmp_path / "data"))


def test_the_cache_example_hits_the_cache_on_a_second_run(tmp_path):
    roost_run(tmp_path, "caching.py", "wf", "--note", "first")
    again = roost_run(tmp_path, "caching.py", "wf", "--note", "second")
    assert json.loads(again.stdout) == {"o0": 49}
    assert (tmp_path / "cache" / "catalog").exists()
