"""task_program.py's entry point for tasks that come with code of their own, as a fast registration's bundle does: it
names an attempt's code (the value of its ``--code`` argument) and imports that code (:mod:`code_module`), so that
the attempts of one code start from a warm child that imported it once."""

from __future__ import annotations

import importlib

from task_program import main

__all__ = ["main"]


def __roost_warm_code__(argv: list[str]) -> str | None:
    """The value after ``--code``, if any."""
    if "--code" in argv[:-1]:
        return argv[argv.index("--code") + 1]
    return None


def __roost_warm_task__(argv: list[str]) -> None:
    """Import the code (the same module whatever the key: the tests tell children apart by their pids)."""
    importlib.import_module("code_module")
