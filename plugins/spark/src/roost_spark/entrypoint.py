"""The driver's main file on Kubernetes: ``python entrypoint.py COMMAND ARGS...`` runs the console script
``COMMAND`` (``roost-execute``, ``roost-fast-execute``, or flytekit's ``pyflyte-execute``) with ``ARGS``.

spark-submit runs a Python application as a file (``SparkJob.mainApplicationFile``) with the task's container
arguments, which start with the command to run; a Spark image keeps a copy of this file at that path
(``local:///opt/venv/bin/entrypoint.py`` by default, where flytekit's images keep theirs).
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points


def main(argv: list[str]) -> int:
    """Run the console script ``argv[0]`` with the rest as its arguments."""
    if not argv:
        print("usage: entrypoint.py COMMAND [ARGS...]  (COMMAND: a console script, such as roost-execute)")
        return 2
    found = entry_points(group="console_scripts", name=argv[0])
    if not found:
        print(f"entrypoint.py: no console script {argv[0]!r} is installed in {sys.prefix}", file=sys.stderr)
        return 127
    sys.argv = argv
    script = next(iter(found)).load()
    result = script()
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
