"""Checks of identifiers and payloads; every failure is an InvalidArgument naming the field."""

from __future__ import annotations

import re
from collections.abc import Iterable

from flyteidl.core import identifier_pb2

from roost_admin.server.errors import InvalidArgument, NotFound

_PROJECT = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,254}$")
_VERSION = re.compile(r"^[A-Za-z0-9_.\-=+:]{1,255}$")
_EXECUTION = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")


def _check(pattern: re.Pattern[str], value: str, what: str, rule: str) -> str:
    if not value:
        raise InvalidArgument(f"{what} is required")
    if not pattern.match(value):
        raise InvalidArgument(f"{what} {value!r} is not valid: {rule}")
    return value


def project_id(value: str, what: str = "project") -> str:
    """A project id: lowercase letters, digits and dashes, 1 to 63, starting and ending alphanumeric."""
    return _check(_PROJECT, value, what, "use 1-63 lowercase letters, digits and '-'")


def entity_name(value: str, what: str = "name") -> str:
    """A task, workflow or launch plan name: letters, digits, '_', '.', '-', up to 255."""
    return _check(_NAME, value, what, "use letters, digits, '_', '.' and '-', up to 255 characters")


def version(value: str, what: str = "version") -> str:
    """An entity version: letters, digits and ``_ . - = + :``, up to 255."""
    return _check(_VERSION, value, what, "use letters, digits and '_.-=+:', up to 255 characters")


def execution_name(value: str, what: str = "execution name") -> str:
    """An execution name: lowercase letters, digits and dashes, starting with a letter, up to 63."""
    return _check(
        _EXECUTION, value, what, "use 1-63 lowercase letters, digits and '-', starting with a letter"
    )


def text(value: str, what: str, limit: int = 255) -> str:
    """A name stored as it is given (a principal, a node id, an error code): at most ``limit`` characters."""
    if len(value) > limit:
        raise InvalidArgument(f"{what} is {len(value)} characters long; the limit is {limit}")
    return value


def domain(value: str, domains: Iterable[str], what: str = "domain") -> str:
    """A configured domain."""
    known = list(domains)
    if not value:
        raise InvalidArgument(f"{what} is required")
    if value not in known:
        raise NotFound(f"{what} {value!r} does not exist; domains: {', '.join(known)}")
    return value


def identifier(
    ident: identifier_pb2.Identifier, domains: Iterable[str], *, what: str, need_version: bool = True
) -> identifier_pb2.Identifier:
    """A full (project, domain, name[, version]) identifier."""
    project_id(ident.project, f"{what} project")
    domain(ident.domain, domains, f"{what} domain")
    entity_name(ident.name, f"{what} name")
    if need_version:
        version(ident.version, f"{what} version")
    return ident


def size(payload: bytes | int, limit: int, what: str) -> None:
    """Refuse payloads over ``limit`` bytes."""
    from roost_admin.server.errors import ResourceExhausted

    length = payload if isinstance(payload, int) else len(payload)
    if length > limit:
        raise ResourceExhausted(f"{what} is {length} bytes; the limit is {limit}")
