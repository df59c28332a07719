"""Admin-side hook specifications: the reference manual for notification channel plugins.

An admin plugin is a module listed under the ``roost.admin`` entry-point group, holding functions decorated
with :data:`hookimpl` whose names match the hooks below; each receives a ``register`` callable::

    from roost_admin.notifiers import hookimpl

    @hookimpl
    def roost_notification_channels(register):
        register("teams", TeamsChannel, settings=TeamsSettings)

Roost's own channels (email, webhook, Slack, PagerDuty) register through this same hook. A deployment sends a
kind of Flyte notification through a channel with ``notifications.routes`` (``{slack: slack}``) and
configures the channel under ``notifications.channels.<name>``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:
    from pydantic import BaseModel

    from roost_admin.config import NotificationSettings

PROJECT = "roost_admin"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@dataclass(frozen=True)
class Ended:
    """What a channel is told of an ended execution."""

    id: str
    """The notification's id: the same on every attempt, so receivers can drop repeats."""
    message: Mapping[str, Any]
    """The JSON message the webhooks get (execution, phase, error, workflow, launch plan, link, ...)."""
    variables: Mapping[str, str]
    """Flyte's template variables (``project``, ``domain``, ``name``, ``phase``, ``error``, ``link``,
    ``workflow.name``, ``launch_plan.name``, ...)."""
    recipients: Sequence[str]
    """The notification's ``recipients_email``."""
    template: str
    """The notification's own template ("" for the channel's)."""


class Channel(Protocol):
    """A way of delivering notifications (built once per admin from its settings)."""

    def check(self, recipient: str) -> str:
        """ "" when the channel can reach ``recipient``, else what is wrong ("is not an email address")."""

    def compose(self, ended: Ended) -> list[dict[str, Any]]:
        """The messages to send (each becomes one outbox row, delivered and retried on its own)."""

    def send(self, ident: str, label: str, body: Mapping[str, Any]) -> str:
        """Deliver one message (``label``: the outbox row's channel); "" when the receiver took it, else
        what went wrong (it is retried with backoff)."""


ChannelFactory = Callable[..., Channel]
"""Builds a channel: called with the admin's :class:`~roost_admin.config.NotificationSettings` and the
channel's validated settings (``None`` when it registered no settings class)."""


class RegisterChannel(Protocol):
    """The ``register`` callable of :func:`roost_notification_channels`."""

    def __call__(
        self, name: str, factory: ChannelFactory, *, settings: type[BaseModel] | None = None
    ) -> None:
        """Register the channel ``name`` (how ``notifications.routes`` names it), built by ``factory`` with
        ``notifications.channels.<name>`` validated by ``settings``."""


def build(factory: ChannelFactory, notifications: NotificationSettings, section: Any) -> Channel:
    """Call a channel's factory (here so the calling convention is written once)."""
    return factory(notifications, section)


@hookspec
def roost_notification_channels(register: RegisterChannel) -> None:
    """Register notification channels: their names, factories and settings classes."""
