"""Adds ``roost start``, ``roost engine``, ``roost scheduler``, ``roost backfill`` and ``roost admin`` to the ``roost`` command line (an SDK plugin)."""

from __future__ import annotations

from roost.plugins.hookspecs import RegisterCommand, hookimpl


@hookimpl
def roost_cli_commands(register: RegisterCommand) -> None:
    """The admin's commands."""
    # Imported here: the SDK loads this module for any of its hooks (a task config's class, in every task
    # process), and the admin's command line imports SQLAlchemy, pydantic-settings and the rest (seconds).
    from roost_admin.cli import admin, backfill, engine, scheduler, start

    register(start)
    register(engine)
    register(admin)
    register(scheduler)
    register(backfill)
