"""What every service shares: its context, one transaction per change, and list pages that fit a response."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from flyteidl.admin import common_pb2
from google.protobuf.message import Message
from sqlalchemy import Select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from roost_admin.services import entities, validation
from roost_admin.services.context import ServiceContext
from roost_admin.services.listing import Listing, next_token

T = TypeVar("T")

_PAGE_SHARE = 0.9
"""The share of the message limit a page of entities may fill (the rest is headroom for framing)."""


def _fit(messages: Sequence[Message], limit_bytes: int) -> int:
    """How many of the messages fit in one response (at least one)."""
    budget = int(limit_bytes * _PAGE_SHARE)
    total = 0
    for count, message in enumerate(messages):
        total += message.ByteSize() + 8
        if total > budget and count:
            return count
    return len(messages)


class Service:
    """A service over a :class:`~roost_admin.services.context.ServiceContext`."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def write(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in one transaction; if a concurrent request inserted the same row first, run it once
        more, so it sees that row and answers as for a repeated request."""
        try:
            with self.ctx.db.begin() as session:
                return work(session)
        except IntegrityError:
            with self.ctx.db.begin() as session:
                return work(session)

    def page(
        self,
        listing: Listing,
        query: Select[Any],
        request: Any,
        to_message: Callable[[Any], Message],
        *,
        filters: bool = True,
    ) -> tuple[list[Any], str]:
        """One page of ``query`` as messages, and the next page's token. ``request`` is a list request:
        ``limit``, ``token``, ``sort_by`` and (unless ``filters`` is False) ``filters``."""
        sort = request.sort_by if request.HasField("sort_by") else None
        paged, offset, limit = listing.page(
            query,
            filters=request.filters if filters else "",
            sort=sort,
            limit=request.limit,
            token=request.token,
        )
        with self.ctx.db.session() as session:
            rows, token = next_token(session.execute(paged).all(), offset, limit)
            messages = [to_message(row) for row in rows]
        fitting = _fit(messages, self.ctx.settings.max_message_bytes)
        if fitting < len(messages):
            return messages[:fitting], str(offset + fitting)
        return messages, token

    def check_scope(self, project: str, domain: str, what: str) -> None:
        """The project exists and the domain is configured (an archived project may be read); ``what`` prefixes
        the field names in messages."""
        with self.ctx.db.session() as session:
            # Reading an archived project's entities (and naming them) is fine; only registering is not.
            entities.check_project_domain(session, self.ctx.settings, project, domain, what, writing=False)

    def check_named_id(self, ident: common_pb2.NamedEntityIdentifier, what: str) -> None:
        """A named entity's project, domain and name are valid and exist (see :meth:`check_scope`)."""
        self.check_scope(ident.project, ident.domain, what)
        validation.entity_name(ident.name, f"{what} name")
