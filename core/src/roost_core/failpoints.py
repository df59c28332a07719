"""Injected crash points, for crash tests: a named point in the code that kills the process when armed.

``failpoint("engine.round.after-save")`` does nothing unless the environment variable ``ROOST_FAILPOINT``
names that point when this module is first imported. Then the process exits at once with
:data:`EXIT_CODE` (``os._exit``: no cleanup, no flushing, as close to ``kill -9`` as Python gets) on the
point's ``n``-th hit, where ``ROOST_FAILPOINT=name:n`` (``n`` defaults to 1). A line on stderr says which
point fired. Only one point is armed at a time; a process without the variable pays one global lookup
and a comparison per point passed.

The points, in the order a task attempt's completion passes them (see docs/architecture.md, "Crash
safety"):

``attempt.ended``
    a handler reported the attempt's end and the engine recorded it in memory (outputs checked, cache
    filled, cleanup owed), nothing saved yet;
``engine.round.before-save`` / ``engine.round.after-save``
    around the save of the round's state;
``engine.cleanup.before`` / ``engine.cleanup.after``
    around each handler ``abort``/``finalize`` owed to an ended attempt (run after the save);
``engine.cleanup.after-inline``
    after the ``finalize`` calls owed to one batch of map indices that ended inline;
``engine.round.after-flush``
    after the round's events went to the sinks;
``worker.claimed`` / ``worker.before-release``
    in the admin's engine workers, after claiming executions and before letting a finished one go.
"""

from __future__ import annotations

import itertools
import os

__all__ = ["ENVIRONMENT_VARIABLE", "EXIT_CODE", "failpoint"]

ENVIRONMENT_VARIABLE = "ROOST_FAILPOINT"
EXIT_CODE = 86
"""The exit code of a process a failpoint ended (so a test can tell it from a real failure)."""


def _armed() -> tuple[str, int] | None:
    spec = os.environ.get(ENVIRONMENT_VARIABLE, "").strip()
    if not spec:
        return None
    name, _, hit = spec.partition(":")
    try:
        count = int(hit) if hit else 1
    except ValueError:
        raise ValueError(f"{ENVIRONMENT_VARIABLE}={spec!r}: expected name or name:hit-count") from None
    return name, count


_ARMED = _armed()
_hits = itertools.count(1)  # next() on it is atomic under the GIL: no lock needed


def failpoint(name: str) -> None:
    """Exit the process here if ``name`` is the armed point and this is its armed hit; else nothing."""
    if _ARMED is None or _ARMED[0] != name:
        return
    hit = next(_hits)
    if hit == _ARMED[1]:
        os.write(2, f"roost failpoint {name} hit {hit}: exiting\n".encode())
        os._exit(EXIT_CODE)
