"""How each example under examples/ is run, and what it answers: the same locally and on `roost start`."""

from __future__ import annotations

from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

PLUGIN_EXAMPLES = {"spark_": "plugins/spark"}
"""Examples that need a plugin package, by file-name prefix → the package whose own session runs them (the
examples session installs no plugin)."""

ARGUMENTS = {
    "basics.py": ["wf", "--x", "3"],
    "map.py": ["wf"],
    "conditional.py": ["wf", "--seed", "5"],
    "dynamic.py": ["wf", "--n", "10"],
    "caching.py": ["wf"],
    "dataframes.py": ["wf", "--rows", "10"],
    "files.py": ["wf", "--count", "5"],
}
"""The `roost run` arguments after the file: the workflow and its inputs."""

ANSWERS = {
    "basics.py": {"o0": 25, "o1": 17.0, "o2": "hello, roost"},
    "map.py": {"o0": 30},
    "conditional.py": {"o0": "tails (0.595)"},
    "dynamic.py": {"o0": 89},
    "caching.py": {"o0": 49},
    "dataframes.py": {"o0": 120},
}
"""The outputs (`-o json`) of the examples whose outputs are plain values; files.py returns a line count and a
file, checked by each test."""

FILE_LINES = 5
"""The line count files.py reports, and the number of lines of the file it returns."""
