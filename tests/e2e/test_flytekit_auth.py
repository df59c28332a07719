"""A real flytekit authenticates to `roost start` with auth on, with client credentials (``authType:
ClientSecret``), then registers and runs a workflow: once against the built-in authorization server, once
against an external OpenID Connect issuer (a test issuer standing in for Okta or Keycloak). The client is made
and given its role with `roost admin`, as an operator would. Afterwards nothing the server wrote (its log, its
database, its blobs and events, the task logs) holds the secret or a token."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from conftest import Starter
from flytekit_support import PROJECT_SOURCE, Flytekit

from roost_admin.auth.execution_credentials import ExecutionCredentials
from roost_admin.testing.oidc import TestIssuer
from roost_admin.testing.server import RoostServer, tool

if TYPE_CHECKING:
    from flytekit_env import FlytekitEnv

pytest_plugins = ["flytekit_env"]

PROJECT = "flytesnacks"
DOMAIN = "development"
SECRET = "e2e-secret:with+odd/chars"
COMMAND_TIMEOUT = 180


def _admin(folder: Path, *args: str, input: str | None = None) -> str:
    """`roost admin ...` on the server's data folder (before it starts), as an operator runs it."""
    command = [tool("roost"), "admin", *args, "--data-dir", str(folder / "roost")]
    result = subprocess.run(command, check=False, input=input, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{' '.join(command)}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _flytekit(server: RoostServer, env: FlytekitEnv, folder: Path, client_id: str) -> Flytekit:
    config = folder / "pyflyte.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "admin": {
                    "endpoint": f"dns:///{server.grpc_endpoint}",
                    "insecure": True,
                    "authType": "ClientSecret",
                    "clientId": client_id,
                    "clientSecretEnvVar": "E2E_CLIENT_SECRET",
                }
            }
        )
    )
    project = shutil.copytree(
        PROJECT_SOURCE, folder / "project", ignore=shutil.ignore_patterns("__pycache__")
    )
    # The server has this process's temporary folder.
    return Flytekit(server, env, project, config, folder / "task-logs", Path(tempfile.gettempdir()))


def _settings(env: FlytekitEnv, folder: Path, auth: dict[str, Any]) -> dict[str, Any]:
    local_process = {
        "image_environments": {env.default_image: str(env.folder)},
        "work_dir": str(folder / "attempts"),
        "log_dir": str(folder / "task-logs"),
    }
    return {"auth": {"enabled": True, **auth}, "engine": {"handlers": {"local-process": local_process}}}


def _register_and_run(flytekit: Flytekit, secret: str) -> dict[str, Any]:
    """`pyflyte register` of flows.py, then FlyteRemote starts square_plus and waits for it."""
    environment = {"E2E_CLIENT_SECRET": secret}
    register = flytekit.command(
        "register", "--project", PROJECT, "--domain", DOMAIN, "--version", "auth-v1", "flows.py"
    )
    registered = _run(flytekit, register, environment)
    assert registered.returncode == 0, flytekit.explain(registered)
    plan = {
        "version": "auth-v1",
        "timeout": 120,
        "launch": [{"key": "sq", "kind": "workflow", "name": "flows.square_plus", "inputs": {"x": 3}}],
    }
    plan_file = flytekit.project.parent / "plan.json"
    plan_file.write_text(json.dumps(plan))
    driven = _run(
        flytekit, [flytekit.env.python, "driver.py", str(flytekit.config), str(plan_file)], environment
    )
    assert driven.returncode == 0, flytekit.explain(driven)
    result: dict[str, Any] = json.loads(driven.stdout.strip().splitlines()[-1])["sq"]
    assert result.get("phase") == "SUCCEEDED", f"{result}\n{flytekit.explain(driven)}"
    assert result["outputs"] == {"o0": 11}
    return result


def _run(
    flytekit: Flytekit, command: list[str], environment: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command,
        check=False,
        cwd=flytekit.project,
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
    )
    flytekit.runs.append(result)
    return result


JWT = re.compile(rb"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
"""Any JSON Web Token (header and payload are base64url JSON objects)."""


def _leaks(server: RoostServer, folder: Path, needles: dict[str, str]) -> list[str]:
    """Where any of ``needles`` (name → value) or any JWT appears: the server's output, and every file the
    server or its tasks wrote (database, blobs, events, task logs), except the server's key folder."""
    sources = [("the server log", server.log().encode())]
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_relative_to(folder / "server0" / "roost" / "auth"):
            sources.append((str(path), path.read_bytes()))
    found = []
    for where, content in sources:
        found += [f"{name} in {where}" for name, value in needles.items() if value.encode() in content]
        found += [f"a token in {where}" for _ in JWT.finditer(content)][:1]
    return found


def test_client_credentials_with_the_builtin_server(
    roost_server: Starter, flytekit_env: FlytekitEnv, tmp_path: Path
) -> None:
    folder = tmp_path / "server0"
    _admin(
        folder,
        "clients",
        "create",
        "ci",
        "--role",
        "editor",
        "-p",
        PROJECT,
        "--secret-stdin",
        input=SECRET + "\n",
    )
    server = roost_server(settings=_settings(flytekit_env, tmp_path, {}))
    assert "auth:    on, built-in authorization server" in server.log()
    flytekit = _flytekit(server, flytekit_env, tmp_path, "ci")

    refused = _run(
        flytekit,
        flytekit.command(
            "register", "--project", PROJECT, "--domain", DOMAIN, "--version", "bad", "flows.py"
        ),
        {"E2E_CLIENT_SECRET": "wrong"},
    )
    assert refused.returncode != 0
    assert "unknown client 'ci' or wrong secret" in refused.stdout + refused.stderr

    result = _register_and_run(flytekit, SECRET)

    key = (folder / "roost" / "auth" / "execution.key").read_bytes().strip()
    credential = ExecutionCredentials(key)
    execution_secret = credential.secret(f"execution/{PROJECT}/{DOMAIN}/{result['execution']}")
    leaks = _leaks(server, tmp_path, {"the client secret": SECRET, "an execution secret": execution_secret})
    assert not leaks, "\n".join(leaks)


def test_client_credentials_with_an_external_issuer(
    roost_server: Starter, flytekit_env: FlytekitEnv, tmp_path: Path
) -> None:
    with TestIssuer(audience="roost-e2e") as issuer:
        issuer.add_client("ci-ext", SECRET)
        folder = tmp_path / "server0"
        _admin(folder, "roles", "grant", "editor", "--client", "ci-ext", "-p", PROJECT)
        external = {"external": {"issuer": issuer.url, "audience": ["roost-e2e"]}}
        server = roost_server(settings=_settings(flytekit_env, tmp_path, external))
        assert f"auth:    on, tokens of {issuer.url}" in server.log()
        flytekit = _flytekit(server, flytekit_env, tmp_path, "ci-ext")
        _register_and_run(flytekit, SECRET)
        assert {request["grant_type"] for request in issuer.token_requests} == {"client_credentials"}
        assert issuer.issued_tokens
        needles = {
            "the client secret": SECRET,
            **{f"token {i}": t for i, t in enumerate(issuer.issued_tokens)},
        }
        leaks = _leaks(server, tmp_path, needles)
        assert not leaks, "\n".join(leaks)
