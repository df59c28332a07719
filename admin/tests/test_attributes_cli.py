"""`roost get|update|delete attributes` against a running admin: documents in and out, and bad documents
named by key (the CLI's check) or by field (the admin's INVALID_ARGUMENT)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from roost.cli import main
from roost_admin.app import AdminApp


@pytest.fixture
def cli(app: AdminApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The roost CLI pointed at the admin; the folder for documents."""
    monkeypatch.setenv("ROOST_ENDPOINT", f"127.0.0.1:{app.grpc_port}")
    monkeypatch.setenv("ROOST_INSECURE", "true")
    monkeypatch.setenv("ROOST_CLIENT_CONFIG", str(tmp_path / "client" / "config.yaml"))
    return tmp_path


def roost(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_update_get_and_delete_a_task_resource_attribute(cli: Path) -> None:
    document = cli / "tra.yaml"
    document.write_text(
        yaml.safe_dump(
            {"domain": "development", "defaults": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "2"}}
        )
    )
    code, output = roost(
        "update", "attributes", "--project", "flytesnacks", "--kind", "task-resource", "-f", str(document)
    )
    assert (code, output) == (
        0,
        "updated the task-resource attributes of project 'flytesnacks' domain 'development'\n",
    )

    code, output = roost(
        "get", "attributes", "-p", "flytesnacks", "-d", "development", "--kind", "task-resource"
    )
    assert code == 0, output
    assert yaml.safe_load(output) == {
        "project": "flytesnacks",
        "domain": "development",
        "defaults": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "2"},
    }
    written = cli / "out.yaml"
    code, output = roost(
        "get",
        "attributes",
        "-p",
        "flytesnacks",
        "-d",
        "development",
        "--kind",
        "task-resource",
        "-f",
        str(written),
    )
    assert code == 0, output
    assert yaml.safe_load(written.read_text())["defaults"] == {"cpu": "500m", "memory": "1Gi"}

    # The project level is another attribute.
    code, output = roost("get", "attributes", "-p", "flytesnacks", "--kind", "task-resource")
    assert code == 1
    assert "project 'flytesnacks' has no TASK_RESOURCE attributes" in output

    code, output = roost(
        "delete", "attributes", "-p", "flytesnacks", "-d", "development", "--kind", "task-resource"
    )
    assert (code, output) == (
        0,
        "deleted the task-resource attributes of project 'flytesnacks' domain 'development'\n",
    )
    code, output = roost(
        "get", "attributes", "-p", "flytesnacks", "-d", "development", "--kind", "task-resource"
    )
    assert code == 1
    assert "project 'flytesnacks' domain 'development' has no TASK_RESOURCE attributes" in output


def test_a_workflow_attribute_from_the_documents_scope(cli: Path) -> None:
    document = cli / "wec.yaml"
    document.write_text(
        "project: flytesnacks\ndomain: development\nworkflow: wf.main\nmax_parallelism: 4\n"
        "labels: {values: {team: ml}}\n"
    )
    code, output = roost("update", "attributes", "--kind", "workflow-execution-config", "-f", str(document))
    assert code == 0, output
    code, output = roost(
        "get",
        "attributes",
        "-p",
        "flytesnacks",
        "-d",
        "development",
        "--workflow",
        "wf.main",
        "--kind",
        "workflow-execution-config",
        "-o",
        "json",
    )
    assert code == 0, output
    assert '"max_parallelism": 4' in output and '"team": "ml"' in output


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "defaults: {cpus: 1}\n",
            "unknown key 'defaults.cpus'; known keys here: cpu, gpu, memory, storage, ephemeral_storage",
        ),
        (
            "default: {cpu: 1}\n",
            "unknown key 'default'; known keys here: project, domain, workflow, defaults, limits",
        ),
        (
            "defaults: {memory: 12Q}\n",
            "attributes.matching_attributes.task_resource_attributes.defaults.memory '12Q' is not a valid quantity",
        ),
        ("- cpu\n", "expected a mapping of keys, got list"),
    ],
)
def test_a_bad_document_is_a_clear_error_naming_the_key(cli: Path, text: str, message: str) -> None:
    document = cli / "bad.yaml"
    document.write_text(text)
    code, output = roost(
        "update",
        "attributes",
        "-p",
        "flytesnacks",
        "-d",
        "development",
        "--kind",
        "task-resource",
        "-f",
        str(document),
    )
    assert code == 1
    assert message in output, output
    code, output = roost(
        "get", "attributes", "-p", "flytesnacks", "-d", "development", "--kind", "task-resource"
    )
    assert "has no TASK_RESOURCE attributes" in output, "nothing was stored"
