"""``roost admin clients|users|roles``: manage the built-in authorization server's clients and users, and who
holds which role on which project. They work on the database directly (like ``roost admin migrate``), so the
first admin can be made before anyone can log in."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
from sqlalchemy.orm import Session

from roost_admin.auth.roles import ALL_PROJECTS, Role
from roost_admin.cli_options import database_options

_ROLE = click.Choice([role.label for role in Role])
_PROJECT = click.option(
    "-p", "--project", default=ALL_PROJECTS, show_default=True, help="The project ('*': every project)."
)


@contextmanager
def _directory(options: dict[str, Any]) -> Iterator[Session]:
    """A transaction on the configured database (migrated first); directory errors become CLI errors."""
    from roost_admin.auth.directory import DirectoryError
    from roost_admin.config import load_settings
    from roost_admin.db.base import Database
    from roost_admin.db.migrate import upgrade

    settings = load_settings(options.pop("config_file"), **options)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.database_url)
    try:
        upgrade(db)
        with db.begin() as session:
            yield session
    except DirectoryError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        db.dispose()


def _password(from_stdin: bool, username: str) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(click.prompt(f"password for {username}", hide_input=True, confirmation_prompt=True))


@click.group("clients")
def clients() -> None:
    """Clients of the built-in authorization server (CI, services): they log in with a secret."""


@clients.command("create")
@click.argument("client_id")
@click.option("--description", default="", help="What the client is for.")
@click.option("--role", type=_ROLE, default=None, help="Grant this role too.")
@_PROJECT
@click.option(
    "--secret-stdin", is_flag=True, help="Read the secret from standard input instead of generating one."
)
@database_options
def clients_create(
    client_id: str, description: str, role: str | None, project: str, secret_stdin: bool, **options: Any
) -> None:
    """Create a client; its secret is printed once (store it now: only a hash is kept)."""
    from roost_admin.auth import directory

    given = sys.stdin.readline().rstrip("\n") if secret_stdin else ""
    with _directory(options) as session:
        secret = directory.create_client(session, client_id, description, given)
        if role:
            directory.grant(session, "client", client_id, project, Role.parse(role))
    click.echo(f"created client {client_id}" + (f" with the {role} role on {project}" if role else ""))
    if not given:
        click.echo(f"client secret (shown once): {secret}")


@clients.command("delete")
@click.argument("client_id")
@database_options
def clients_delete(client_id: str, **options: Any) -> None:
    """Delete a client and its role bindings."""
    from roost_admin.auth import directory

    with _directory(options) as session:
        directory.delete_client(session, client_id)
    click.echo(f"deleted client {client_id}")


@clients.command("list")
@database_options
def clients_list(**options: Any) -> None:
    """List the clients."""
    from roost_admin.auth import directory

    with _directory(options) as session:
        for client in directory.list_clients(session):
            click.echo(f"{client.client_id}\t{client.description}")


@click.group("users")
def users() -> None:
    """People who log in to the built-in authorization server (browser or device flow)."""


@users.command("create")
@click.argument("username")
@click.option("--email", default="")
@click.option("--name", default="", help="The display name.")
@click.option("--group", "groups", multiple=True, help="A group the user is in (repeatable).")
@click.option("--role", type=_ROLE, default=None, help="Grant this role too.")
@_PROJECT
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@database_options
def users_create(
    username: str,
    email: str,
    name: str,
    groups: tuple[str, ...],
    role: str | None,
    project: str,
    password_stdin: bool,
    **options: Any,
) -> None:
    """Create a user (the password is asked for, or read from standard input)."""
    from roost_admin.auth import directory

    password = _password(password_stdin, username)
    with _directory(options) as session:
        directory.create_user(session, username, password, email=email, name=name, groups=groups)
        if role:
            directory.grant(session, "user", username, project, Role.parse(role))
    click.echo(f"created user {username}" + (f" with the {role} role on {project}" if role else ""))


@users.command("passwd")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@database_options
def users_passwd(username: str, password_stdin: bool, **options: Any) -> None:
    """Change a user's password (ending their sessions)."""
    from roost_admin.auth import directory

    password = _password(password_stdin, username)
    with _directory(options) as session:
        directory.set_password(session, username, password)
    click.echo(f"changed the password of {username}")


@users.command("groups")
@click.argument("username")
@click.argument("groups", nargs=-1)
@database_options
def users_groups(username: str, groups: tuple[str, ...], **options: Any) -> None:
    """Set the groups a user is in (none: no group)."""
    from roost_admin.auth import directory

    with _directory(options) as session:
        directory.set_groups(session, username, groups)
    click.echo(f"{username} is in {', '.join(groups) or 'no group'}")


@users.command("delete")
@click.argument("username")
@database_options
def users_delete(username: str, **options: Any) -> None:
    """Delete a user and their role bindings."""
    from roost_admin.auth import directory

    with _directory(options) as session:
        directory.delete_user(session, username)
    click.echo(f"deleted user {username}")


@users.command("list")
@database_options
def users_list(**options: Any) -> None:
    """List the users and their groups."""
    from roost_admin.auth import directory

    with _directory(options) as session:
        for user, groups in directory.list_users(session):
            click.echo(f"{user.username}\t{user.email}\t{','.join(groups)}")


def _principal(user: str | None, group: str | None, client: str | None) -> tuple[str, str]:
    given = [(kind, name) for kind, name in (("user", user), ("group", group), ("client", client)) if name]
    if len(given) != 1:
        raise click.UsageError("name exactly one of --user, --group or --client")
    return given[0]


_WHO = [
    click.option("--user", default=None, help="A user (for an external issuer: the username claim's value)."),
    click.option(
        "--group", default=None, help="A group (for an external issuer: a value of the groups claim)."
    ),
    click.option("--client", default=None, help="A client id."),
]


def _who(function: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_WHO):
        function = option(function)
    return function


@click.group("roles")
def roles() -> None:
    """Who holds which role on which project: viewer, launcher, editor, admin (each includes the ones before)."""


@roles.command("grant")
@click.argument("role", type=_ROLE)
@_who
@_PROJECT
@database_options
def roles_grant(
    role: str, user: str | None, group: str | None, client: str | None, project: str, **options: Any
) -> None:
    """Give a user, group or client ROLE on a project (or every project)."""
    from roost_admin.auth import directory

    kind, name = _principal(user, group, client)
    with _directory(options) as session:
        added = directory.grant(session, kind, name, project, Role.parse(role))
    click.echo(f"{kind} {name} {'now has' if added else 'already had'} the {role} role on {project}")


@roles.command("revoke")
@click.argument("role", type=_ROLE, required=False)
@_who
@_PROJECT
@database_options
def roles_revoke(
    role: str | None, user: str | None, group: str | None, client: str | None, project: str, **options: Any
) -> None:
    """Take ROLE (or every role) on a project from a user, group or client."""
    from roost_admin.auth import directory

    kind, name = _principal(user, group, client)
    with _directory(options) as session:
        removed = directory.revoke(session, kind, name, project, Role.parse(role) if role else None)
    click.echo(f"removed {removed} role binding{'s' if removed != 1 else ''} of {kind} {name} on {project}")


@roles.command("list")
@click.option(
    "-p", "--project", default="", help="Only this project's bindings ('*': those on every project)."
)
@_who
@database_options
def roles_list(project: str, user: str | None, group: str | None, client: str | None, **options: Any) -> None:
    """List role bindings."""
    from roost_admin.auth import directory

    kind, name = _principal(user, group, client) if (user or group or client) else ("", "")
    with _directory(options) as session:
        bindings = directory.list_bindings(session, project=project, kind=kind, principal=name)
    for binding in bindings:
        click.echo(f"{binding.project}\t{binding.role.label}\t{binding.kind}\t{binding.principal}")
