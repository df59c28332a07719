"""task_program.py's entry point with a warm-up, as an entry module that imports lazily declares one."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

from task_program import main

__all__ = ["main"]

GENERATOR = random.Random()
"""A generator of its own, made at import (as flytekit keeps one): each attempt must draw from it afresh."""

WARMED_IN: list[int] = []
"""The pid of the interpreter whose warm-up ran (inherited by the attempts forked from it)."""


def __roost_warm_up__() -> None:
    if os.environ.get("WARM_UP_FAIL"):
        raise RuntimeError("the warm-up broke")
    if os.environ.get("WARM_UP_UNTIL"):  # a runtime slow to import: done once that file exists
        Path(os.environ["WARM_UP_LOG"]).touch()
        while not Path(os.environ["WARM_UP_UNTIL"]).exists():
            time.sleep(0.01)
    WARMED_IN.append(os.getpid())
    with open(os.environ["WARM_UP_LOG"], "a") as log:
        log.write(f"{os.getpid()}\n")
