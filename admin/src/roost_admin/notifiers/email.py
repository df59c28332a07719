"""The email channel: flyteadmin's way of sending email, Slack and PagerDuty notifications (to people, to a
Slack channel's address, to a PagerDuty integration's address) over the SMTP server of ``notifications.smtp``,
with the subject and body rendered from Flyte's template variables."""

from __future__ import annotations

import re
import smtplib
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any

from roost_admin.config import NotificationSettings
from roost_admin.notifiers.hookspecs import Ended
from roost_admin.notifiers.templates import render

_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+$")


class EmailChannel:
    """Mails notifications (nothing is sent without ``notifications.smtp``)."""

    def __init__(self, notifications: NotificationSettings, section: None = None) -> None:
        self.settings = notifications

    def check(self, recipient: str) -> str:
        """Recipients are email addresses."""
        return "" if _ADDRESS.fullmatch(recipient) else "is not an email address"

    def compose(self, ended: Ended) -> list[dict[str, Any]]:
        """One email to every recipient, when a mail server is configured."""
        if self.settings.smtp is None:
            return []
        return [
            {
                "recipients": list(ended.recipients),
                "subject": render(self.settings.email_subject, ended.variables),
                "body": render(ended.template or self.settings.email_body, ended.variables),
            }
        ]

    def send(self, ident: str, label: str, body: Mapping[str, Any]) -> str:
        """Hand the email to the mail server, the outbox id as its ``Message-ID``."""
        smtp = self.settings.smtp
        if smtp is None:
            return "no mail server is configured (notifications.smtp)"
        email = EmailMessage()
        email["From"] = smtp.sender
        email["To"] = ", ".join(body["recipients"])
        email["Subject"] = body["subject"]
        # The outbox id, the same on every attempt: a receiver can drop repeats by it.
        email["Message-ID"] = f"<{ident}@roost>"
        email.set_content(body["body"])
        try:
            with smtplib.SMTP(smtp.host, smtp.port, timeout=self.settings.timeout) as server:
                if smtp.starttls:
                    server.starttls()
                if smtp.username:
                    server.login(smtp.username, smtp.password)
                server.send_message(email)
        except smtplib.SMTPException as exc:
            return f"the mail server refused it: {exc}"
        except (TimeoutError, OSError) as exc:
            return f"the mail server is unreachable: {exc}"
        return ""
