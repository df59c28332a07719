"""Adds ``roost start``, ``roost engine`` and ``roost admin`` to the ``roost`` command line (an SDK plugin)."""

from __future__ import annotations

from roost.plugins.hookspecs import RegisterCommand, hookimpl
from roost_admin.cli import admin, engine, start


@hookimpl
def roost_cli_commands(register: RegisterCommand) -> None:
    """The admin's commands."""
    register(start)
    register(engine)
    register(admin)
