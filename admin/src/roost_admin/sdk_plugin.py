"""Adds ``roost start``, ``roost engine``, ``roost scheduler``, ``roost backfill`` and ``roost admin`` to the ``roost`` command line (an SDK plugin)."""

from __future__ import annotations

from roost.plugins.hookspecs import RegisterCommand, hookimpl
from roost_admin.cli import admin, backfill, engine, scheduler, start


@hookimpl
def roost_cli_commands(register: RegisterCommand) -> None:
    """The admin's commands."""
    register(start)
    register(engine)
    register(admin)
    register(scheduler)
    register(backfill)
