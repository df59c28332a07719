"""Workflows of the attribute tests: a task reporting the resources and variables its process got. Task
processes import this module from the tests folder (on their PYTHONPATH)."""

from __future__ import annotations

import json
import os

from roost import Resources, approve, dynamic, task, workflow


def _seen(x: int) -> str:
    seen = {
        k: v for k, v in os.environ.items() if k.startswith("ROOST_") and k.endswith(("_REQUEST", "_LIMIT"))
    }
    return json.dumps({**seen, "WHO": os.environ.get("WHO", ""), "x": x}, sort_keys=True)


@task
def report(x: int) -> str:
    """The process's ``ROOST_<RESOURCE>_REQUEST``/``_LIMIT`` variables and ``WHO``, as JSON."""
    return _seen(x)


@task(requests=Resources(cpu="2"))
def report_big(x: int) -> str:
    """report, requesting 2 CPUs."""
    return _seen(x)


@dynamic
def generate_report(x: int) -> str:
    """report_big, generated at run time."""
    return report_big(x=x)


@task
def bump(x: int) -> int:
    """x + 1."""
    return x + 1


@workflow
def reported(x: int) -> str:
    """report, at once."""
    return report(x=x)


@workflow
def gated_report(x: int) -> str:
    """bump, an approval, then report."""
    return report(x=approve(bump(x=x), "go"))


@workflow
def generated_report(x: int) -> str:
    """report_big in a dynamic workflow."""
    return generate_report(x=x)
