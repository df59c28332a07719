"""The tables of authentication and authorization: clients, users and groups of the built-in authorization
server, role bindings, and the server's outstanding grants (refresh tokens, authorization codes, device codes).

Secrets are never stored: client secrets and passwords as scrypt hashes, tokens and codes as SHA-256 digests.
"""

from __future__ import annotations

import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from roost_admin.db.base import Base, utcnow

_NAME = 255
_DIGEST = 64


class AuthClient(Base):
    """A confidential client of the built-in server (CI, a service): it gets tokens with client credentials."""

    __tablename__ = "auth_clients"

    client_id: Mapped[str] = mapped_column(String(_NAME), primary_key=True)
    secret_hash: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)


class AuthUser(Base):
    """A person who logs in to the built-in server with a password (PKCE in a browser, or the device flow)."""

    __tablename__ = "auth_users"

    username: Mapped[str] = mapped_column(String(_NAME), primary_key=True)
    password_hash: Mapped[str] = mapped_column(Text)
    email: Mapped[str] = mapped_column(String(_NAME), default="")
    name: Mapped[str] = mapped_column(String(_NAME), default="")
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)


class AuthGroupMember(Base):
    """A user's membership of a group (role bindings of the group apply to the user)."""

    __tablename__ = "auth_group_members"

    group_name: Mapped[str] = mapped_column(String(_NAME), primary_key=True)
    username: Mapped[str] = mapped_column(
        String(_NAME), ForeignKey("auth_users.username", ondelete="CASCADE"), primary_key=True
    )


class RoleBinding(Base):
    """A role given to a user, a group or a client, on one project or on every project (``*``)."""

    __tablename__ = "auth_role_bindings"
    __table_args__ = (
        UniqueConstraint("principal_kind", "principal", "project", "role"),
        Index(None, "principal_kind", "principal"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    principal_kind: Mapped[str] = mapped_column(String(16))
    """``user``, ``group`` or ``client``."""
    principal: Mapped[str] = mapped_column(String(_NAME))
    project: Mapped[str] = mapped_column(String(63))
    """A project id, or ``*`` for every project."""
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)


class RefreshToken(Base):
    """An outstanding refresh token (by digest); using it replaces it, logging out deletes it."""

    __tablename__ = "auth_refresh_tokens"

    token_digest: Mapped[str] = mapped_column(String(_DIGEST), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(_NAME))
    subject: Mapped[str] = mapped_column(String(_NAME))
    scope: Mapped[str] = mapped_column(Text, default="")
    expires_at: Mapped[datetime.datetime] = mapped_column()
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)


class AuthorizationCode(Base):
    """An authorization code handed to a browser, waiting to be exchanged (once) with its PKCE verifier."""

    __tablename__ = "auth_codes"

    code_digest: Mapped[str] = mapped_column(String(_DIGEST), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(_NAME))
    redirect_uri: Mapped[str] = mapped_column(Text)
    code_challenge: Mapped[str] = mapped_column(String(128))
    scope: Mapped[str] = mapped_column(Text, default="")
    subject: Mapped[str] = mapped_column(String(_NAME))
    expires_at: Mapped[datetime.datetime] = mapped_column()


class DeviceCode(Base):
    """A device-flow login: the client polls with the device code while a person approves the user code."""

    __tablename__ = "auth_device_codes"

    device_code_digest: Mapped[str] = mapped_column(String(_DIGEST), primary_key=True)
    user_code_digest: Mapped[str] = mapped_column(String(_DIGEST), unique=True)
    client_id: Mapped[str] = mapped_column(String(_NAME))
    scope: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    """``pending``, ``approved`` or ``denied``."""
    subject: Mapped[str] = mapped_column(String(_NAME), default="")
    expires_at: Mapped[datetime.datetime] = mapped_column()
    polled_at: Mapped[datetime.datetime | None] = mapped_column(default=None)
