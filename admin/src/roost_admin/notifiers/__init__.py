"""Notification channels as plugins: what a package implements to add one (see :mod:`.hookspecs`)."""

from __future__ import annotations

from roost_admin.notifiers.hookspecs import Channel, Ended, RegisterChannel, hookimpl
from roost_admin.notifiers.manager import AdminPlugins
from roost_admin.notifiers.templates import render

__all__ = ["AdminPlugins", "Channel", "Ended", "RegisterChannel", "hookimpl", "render"]
