"""``roost admin clients|users|roles``: an operator makes clients and users and hands out roles on the database
directly, with clear errors."""

from __future__ import annotations

from pathlib import Path

import httpx
from auth_support import start_admin
from click.testing import CliRunner

from roost.cli import main


def _admin(data_dir: Path, *args: str, input: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["admin", *args, "--data-dir", str(data_dir)], input=input)
    return result.exit_code, result.output


def test_clients_users_and_roles(tmp_path: Path) -> None:
    data = tmp_path / "roost"
    code, output = _admin(data, "clients", "create", "ci", "--role", "editor", "-p", "flytesnacks")
    assert code == 0, output
    assert output.startswith(
        "created client ci with the editor role on flytesnacks\nclient secret (shown once): "
    )
    secret = output.rsplit(" ", 1)[-1].strip()
    assert _admin(data, "clients", "create", "ci")[1].endswith("Error: client 'ci' already exists\n")
    assert _admin(data, "clients", "create", "execution-x")[0] != 0
    code, output = _admin(data, "users", "create", "dana", "--group", "ml", "--password-stdin", input="pw\n")
    assert (code, output) == (0, "created user dana\n")
    assert _admin(data, "roles", "grant", "launcher", "--group", "ml", "-p", "flytesnacks")[1] == (
        "group ml now has the launcher role on flytesnacks\n"
    )
    assert _admin(data, "roles", "grant", "launcher", "--group", "ml", "-p", "flytesnacks")[1] == (
        "group ml already had the launcher role on flytesnacks\n"
    )
    assert _admin(data, "roles", "grant", "viewer", "--user", "dana", "--client", "ci")[1].endswith(
        "Error: name exactly one of --user, --group or --client\n"
    )
    assert (
        "Error: project 'Bad_Project' is not a valid project id"
        in _admin(data, "roles", "grant", "viewer", "--user", "dana", "-p", "Bad_Project")[1]
    )
    assert (
        "'owner' is not one of 'viewer', 'launcher', 'editor', 'admin'"
        in _admin(data, "roles", "grant", "owner", "--user", "dana")[1]
    )
    assert _admin(data, "roles", "list")[1] == (
        "flytesnacks\teditor\tclient\tci\nflytesnacks\tlauncher\tgroup\tml\n"
    )
    assert _admin(data, "users", "list")[1] == "dana\t\tml\n"
    assert _admin(data, "roles", "revoke", "--group", "ml", "-p", "flytesnacks")[1] == (
        "removed 1 role binding of group ml on flytesnacks\n"
    )

    app = start_admin(tmp_path, f"sqlite:///{data / 'roost.db'}", data_dir=data)
    try:
        answer = httpx.post(
            f"{app.http_url}/oauth2/token", data={"grant_type": "client_credentials"}, auth=("ci", secret)
        )
        assert answer.status_code == 200
    finally:
        app.stop()
    assert _admin(data, "clients", "delete", "ci")[1] == "deleted client ci\n"
    assert _admin(data, "roles", "list")[1] == ""
