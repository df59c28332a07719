"""The directory of the built-in authorization server and of role bindings: clients, users, groups, and who
holds which role where. Used by the admin CLI (``roost admin clients|users|roles``), the authorization server
and the per-request role check."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from roost_admin.auth import models
from roost_admin.auth.hashing import hash_secret, new_secret, verify_secret
from roost_admin.auth.roles import ALL_PROJECTS, PRINCIPAL_KINDS, Principal, Role

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,254}$")
EXECUTION_CLIENT_PREFIX = "execution/"
"""Client ids of execution credentials start with this; no stored client may."""


class DirectoryError(Exception):
    """A directory change that cannot be made; the message names what is wrong."""


@dataclass(frozen=True)
class Binding:
    """One role binding, as listed."""

    kind: str
    principal: str
    project: str
    role: Role


def _check_name(what: str, name: str) -> str:
    if not _NAME.match(name):
        raise DirectoryError(
            f"{what} {name!r} is not valid: use letters, digits and . _ @ + - (up to 255, starting with a letter or digit)"
        )
    return name


# clients


def create_client(session: Session, client_id: str, description: str = "", secret: str = "") -> str:
    """Create a confidential client; returns its secret (generated unless given), shown once."""
    _check_name("client id", client_id)
    if client_id.startswith(EXECUTION_CLIENT_PREFIX.rstrip("/")):
        raise DirectoryError(f"client ids starting with {EXECUTION_CLIENT_PREFIX!r} are reserved")
    if session.get(models.AuthClient, client_id) is not None:
        raise DirectoryError(f"client {client_id!r} already exists")
    secret = secret or new_secret()
    session.add(
        models.AuthClient(client_id=client_id, secret_hash=hash_secret(secret), description=description)
    )
    return secret


def check_client_secret(session: Session, client_id: str, secret: str) -> bool:
    """Whether ``secret`` is the client's."""
    client = session.get(models.AuthClient, client_id)
    return client is not None and verify_secret(secret, client.secret_hash)


def delete_client(session: Session, client_id: str) -> None:
    """Delete a client, its role bindings and its refresh tokens."""
    client = session.get(models.AuthClient, client_id)
    if client is None:
        raise DirectoryError(f"client {client_id!r} does not exist")
    session.delete(client)
    _forget_principal(session, "client", client_id)
    session.execute(delete(models.RefreshToken).where(models.RefreshToken.client_id == client_id))


def list_clients(session: Session) -> Sequence[models.AuthClient]:
    """Every client, by id."""
    return session.scalars(select(models.AuthClient).order_by(models.AuthClient.client_id)).all()


# users and groups


def create_user(
    session: Session,
    username: str,
    password: str,
    *,
    email: str = "",
    name: str = "",
    groups: Sequence[str] = (),
) -> None:
    """Create a user who logs in with ``password``, in ``groups``."""
    _check_name("username", username)
    if not password:
        raise DirectoryError("a password is required")
    if session.get(models.AuthUser, username) is not None:
        raise DirectoryError(f"user {username!r} already exists")
    session.add(
        models.AuthUser(username=username, password_hash=hash_secret(password), email=email, name=name)
    )
    session.flush()
    set_groups(session, username, groups)


def set_password(session: Session, username: str, password: str) -> None:
    """Change a user's password and end their sessions (refresh tokens)."""
    user = _user(session, username)
    if not password:
        raise DirectoryError("a password is required")
    user.password_hash = hash_secret(password)
    session.execute(delete(models.RefreshToken).where(models.RefreshToken.subject == username))


def set_groups(session: Session, username: str, groups: Sequence[str]) -> None:
    """Make ``groups`` the user's groups."""
    _user(session, username)
    session.execute(delete(models.AuthGroupMember).where(models.AuthGroupMember.username == username))
    for group in dict.fromkeys(groups):
        session.add(models.AuthGroupMember(group_name=_check_name("group", group), username=username))


def check_password(session: Session, username: str, password: str) -> models.AuthUser | None:
    """The user, if ``password`` is theirs."""
    user = session.get(models.AuthUser, username)
    if user is None or not verify_secret(password, user.password_hash):
        return None
    return user


def user_groups(session: Session, username: str) -> tuple[str, ...]:
    """The user's groups."""
    rows = session.scalars(
        select(models.AuthGroupMember.group_name)
        .where(models.AuthGroupMember.username == username)
        .order_by(models.AuthGroupMember.group_name)
    )
    return tuple(rows)


def delete_user(session: Session, username: str) -> None:
    """Delete a user, their groups, role bindings and refresh tokens."""
    session.delete(_user(session, username))
    session.execute(delete(models.AuthGroupMember).where(models.AuthGroupMember.username == username))
    _forget_principal(session, "user", username)
    session.execute(delete(models.RefreshToken).where(models.RefreshToken.subject == username))


def list_users(session: Session) -> list[tuple[models.AuthUser, tuple[str, ...]]]:
    """Every user with their groups."""
    users = session.scalars(select(models.AuthUser).order_by(models.AuthUser.username)).all()
    return [(user, user_groups(session, user.username)) for user in users]


def _user(session: Session, username: str) -> models.AuthUser:
    user = session.get(models.AuthUser, username)
    if user is None:
        raise DirectoryError(f"user {username!r} does not exist")
    return user


# role bindings


def _check_binding(kind: str, principal: str, project: str) -> None:
    if kind not in PRINCIPAL_KINDS:
        raise DirectoryError(f"role bindings name a {', '.join(PRINCIPAL_KINDS)}, not a {kind!r}")
    _check_name(kind, principal)
    if project != ALL_PROJECTS and not re.match(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", project):
        raise DirectoryError(f"project {project!r} is not a valid project id (or '*' for every project)")


def grant(session: Session, kind: str, principal: str, project: str, role: Role) -> bool:
    """Give ``principal`` ``role`` on ``project``; False if it already had exactly that binding."""
    _check_binding(kind, principal, project)
    exists = session.scalars(
        select(models.RoleBinding).where(
            models.RoleBinding.principal_kind == kind,
            models.RoleBinding.principal == principal,
            models.RoleBinding.project == project,
            models.RoleBinding.role == role.label,
        )
    ).first()
    if exists is not None:
        return False
    session.add(
        models.RoleBinding(principal_kind=kind, principal=principal, project=project, role=role.label)
    )
    return True


def revoke(session: Session, kind: str, principal: str, project: str, role: Role | None = None) -> int:
    """Remove ``principal``'s bindings on ``project`` (only ``role``'s, if given); returns how many."""
    _check_binding(kind, principal, project)
    query = delete(models.RoleBinding).where(
        models.RoleBinding.principal_kind == kind,
        models.RoleBinding.principal == principal,
        models.RoleBinding.project == project,
    )
    if role is not None:
        query = query.where(models.RoleBinding.role == role.label)
    return int(session.execute(query).rowcount or 0)  # type: ignore[attr-defined]


def list_bindings(
    session: Session, *, project: str = "", kind: str = "", principal: str = ""
) -> list[Binding]:
    """Role bindings, optionally of one project, kind or principal."""
    query = select(models.RoleBinding).order_by(
        models.RoleBinding.project, models.RoleBinding.principal_kind, models.RoleBinding.principal
    )
    if project:
        query = query.where(models.RoleBinding.project == project)
    if kind:
        query = query.where(models.RoleBinding.principal_kind == kind)
    if principal:
        query = query.where(models.RoleBinding.principal == principal)
    return [
        Binding(r.principal_kind, r.principal, r.project, Role.parse(r.role)) for r in session.scalars(query)
    ]


def bindings_of(session: Session, principal: Principal, groups: Sequence[str]) -> list[tuple[str, Role]]:
    """(project, role) of every binding that applies to ``principal`` (as itself or through ``groups``)."""
    kind = "client" if principal.kind == "client" else "user"
    conditions = [
        (models.RoleBinding.principal_kind == kind) & (models.RoleBinding.principal == principal.name)
    ]
    if groups:
        conditions.append(
            (models.RoleBinding.principal_kind == "group") & (models.RoleBinding.principal.in_(list(groups)))
        )
    rows = session.execute(
        select(models.RoleBinding.project, models.RoleBinding.role).where(or_(*conditions))
    ).all()
    return [(project, Role.parse(role)) for project, role in rows]


def has_admin(session: Session) -> bool:
    """Whether anyone holds the admin role on every project (else nobody can administer with auth on)."""
    return (
        session.scalars(
            select(models.RoleBinding.id).where(
                models.RoleBinding.project == ALL_PROJECTS, models.RoleBinding.role == Role.ADMIN.label
            )
        ).first()
        is not None
    )


def _forget_principal(session: Session, kind: str, name: str) -> None:
    session.execute(
        delete(models.RoleBinding).where(
            models.RoleBinding.principal_kind == kind, models.RoleBinding.principal == name
        )
    )
