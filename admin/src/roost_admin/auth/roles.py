"""Per-project roles, who holds them, and the check of one caller against one project.

Roles are cumulative: a launcher is also a viewer, an editor also a launcher, an admin also an editor.

- ``viewer``: read registered entities, executions, their data and signals;
- ``launcher``: run, terminate, relaunch, recover and archive executions, set signals (approve), upload inputs;
- ``editor``: register tasks, workflows and launch plans, activate launch plans, edit entity metadata;
- ``admin``: create and update projects, set matchable attributes, write events.

A role is held on one project or on every project (``*``), by a user, a group or a client, through role
bindings in the database or the token's role claim.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

ALL_PROJECTS = "*"
PRINCIPAL_KINDS = ("user", "group", "client")
"""Who role bindings name."""


class Role(enum.IntEnum):
    """A role; a higher one includes every lower one."""

    VIEWER = 1
    LAUNCHER = 2
    EDITOR = 3
    ADMIN = 4

    @property
    def label(self) -> str:
        """The name users write (``viewer``)."""
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Role:
        """The role named ``text``; an unknown name is an error listing the roles."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown role {text!r}; roles: {', '.join(r.label for r in cls)}") from None


@dataclass(frozen=True)
class Principal:
    """Who made a request, as its bearer token says."""

    kind: str
    """``user``, ``client`` or ``execution`` (a task process's execution credential)."""
    name: str
    """The username or client id role bindings are matched against."""
    subject: str
    client_id: str = ""
    groups: tuple[str, ...] = ()
    scopes: frozenset[str] = frozenset()
    claimed_roles: tuple[tuple[str, Role], ...] = ()
    """Roles the token itself grants: (project or ``*``, role)."""
    restriction: tuple[str, str] | None = None
    """(project, domain) an execution credential is confined to."""
    claims: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """How messages name the caller (``user 'alice'``)."""
        return f"{self.kind} {self.name!r}"


@dataclass(frozen=True)
class Grants:
    """The roles one principal holds, by project (``*`` for every project)."""

    principal: Principal
    roles: Mapping[str, Role]

    @classmethod
    def of(cls, principal: Principal, bindings: Iterable[tuple[str, Role]]) -> Grants:
        """The highest role per project from the bindings and the principal's claimed roles."""
        roles: dict[str, Role] = {}
        for project, role in (*bindings, *principal.claimed_roles):
            roles[project] = max(role, roles.get(project, role))
        return cls(principal, roles)

    def role_on(self, project: str) -> Role | None:
        """The principal's role on ``project`` (an empty project: its role on every project)."""
        found = [
            role for key, role in self.roles.items() if key == ALL_PROJECTS or (project and key == project)
        ]
        return max(found) if found else None

    def allows(self, role: Role, project: str, domain: str = "") -> bool:
        """Whether the principal holds ``role`` (or a higher one) on ``project`` (and ``domain``, for a
        principal confined to one)."""
        restriction = self.principal.restriction
        if restriction is not None and (project != restriction[0] or (domain and domain != restriction[1])):
            return False
        held = self.role_on(project)
        return held is not None and held >= role

    def sees_every_project(self) -> bool:
        """Whether the principal may read every project."""
        return self.principal.restriction is None and ALL_PROJECTS in self.roles

    def visible_projects(self) -> set[str]:
        """The projects the principal may read (when it does not see every project)."""
        if self.principal.restriction is not None:
            return {self.principal.restriction[0]}
        return set(self.roles)


def parse_claimed_roles(values: Iterable[str]) -> tuple[tuple[str, Role], ...]:
    """Roles from a token claim: ``ROLE`` (every project) or ``PROJECT:ROLE``; unknown roles are ignored."""
    found: list[tuple[str, Role]] = []
    for value in values:
        project, _, role = value.rpartition(":")
        try:
            found.append((project or ALL_PROJECTS, Role.parse(role)))
        except ValueError:
            continue
    return tuple(found)
