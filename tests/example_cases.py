"""How each example under examples/ is run, and what it answers: the same locally and on `roost start`."""

from __future__ import annotations

from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

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

PLUGIN_EXAMPLES = {
    "trino_trips.py": "plugins/presto/tests (nox -s presto), against its Trino test server",
    "bigquery_snowflake.py": "plugins/webapi/tests/test_example.py (nox -s webapi), against the stand-ins",
    "sql_pipeline.py": "plugins/webapi/tests/test_sql_pipeline.py (nox -s webapi), against the stand-ins",
    "mpi_": "plugins/mpi/tests (nox -s mpi)",
    "ray_fanout.py": "plugins/ray/tests (nox -s ray)",
    "spark_": "plugins/spark/tests (nox -s spark)",
}
"""Examples of plugin packages, by file name or file-name prefix → the tests that run them (in the plugin's own
session, which installs the plugin and its heavy dependencies or stand-ins); the examples session leaves them out."""

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
