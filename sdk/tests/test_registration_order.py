"""What `roost register` and `roost package` send, and in which order: every message after the ones it refers
to (so a workflow that calls a launch plan registers), and nothing at all when a file does not load."""

from __future__ import annotations

import tarfile
import textwrap
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from roost.cli import main
from roost.loader import load_file
from roost.remote.register import _serialized
from roost.serialize import SerializationSettings

CALLS_LAUNCH_PLANS = """
from roost import LaunchPlan, task, workflow


@task
def label(text: str, n: int = 0, suffix: str = "") -> str:
    return f"{text} {n}{suffix}"


@workflow
def child(n: int = 1) -> str:
    return label(text="child", n=n)


@workflow
def other_child(n: int = 1) -> str:
    return label(text="other", n=n)


module_level = LaunchPlan.get_or_create(child, f"{__name__}.module_level", default_inputs={"n": 3})


@workflow
def parent(n: int = 2) -> str:
    inside = LaunchPlan.get_or_create(other_child, f"{__name__}.inside_body")
    return label(text=module_level(n=n), suffix=inside(n=n))
"""


def unique_module(folder: Path, text: str, stem: str = "calls") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}_{uuid.uuid4().hex[:8]}.py"
    path.write_text(textwrap.dedent(text))
    return path


def references(kind: str, message: object) -> set[tuple[str, str]]:
    """The (kind, name) of everything a message refers to."""
    if kind == "launch plan":
        return {("workflow", message.spec.workflow_id.name)}  # type: ignore[attr-defined]
    if kind != "workflow":
        return set()
    found: set[tuple[str, str]] = set()
    for node in message.template.nodes:  # type: ignore[attr-defined]
        if node.HasField("task_node"):
            found.add(("task", node.task_node.reference_id.name))
        elif node.workflow_node.HasField("launchplan_ref"):
            found.add(("launch plan", node.workflow_node.launchplan_ref.name))
    return found


def test_every_message_comes_after_what_it_refers_to(tmp_path):
    module = load_file(unique_module(tmp_path, CALLS_LAUNCH_PLANS))
    serializer = _serialized([module.parent], SerializationSettings())
    seen: set[tuple[str, str]] = set()
    order = []
    assert module.parent(n=2) == "child 2 0other 2"
    for kind, message in serializer.in_order():
        name = message.template.id.name if hasattr(message, "template") else message.id.name
        assert references(kind, message) <= seen, f"{kind} {name} comes before what it refers to"
        seen.add((kind, name))
        order.append((kind, name.rpartition(".")[2]))
    assert ("launch plan", "module_level") in order and ("launch plan", "inside_body") in order
    assert order.index(("launch plan", "module_level")) < order.index(("workflow", "parent"))
    assert order[-1] == ("launch plan", "parent"), "the default launch plan of the workflow comes last"


def test_package_numbers_the_files_in_registration_order(tmp_path):
    path = unique_module(tmp_path / "code", CALLS_LAUNCH_PLANS)
    archive = tmp_path / "pkg.tgz"
    result = CliRunner().invoke(main, ["package", str(path), "-o", str(archive)])
    assert result.exit_code == 0, result.output
    with tarfile.open(archive) as tar:
        names = sorted(n for n in tar.getnames() if n.endswith(".pb"))
    position = {name.rsplit(".", 2)[-2] + ".pb": i for i, name in enumerate(names)}
    assert position["module_level_3.pb"] < position["parent_2.pb"]
    assert position["inside_body_3.pb"] < position["parent_2.pb"]
    assert position["child_2.pb"] < position["module_level_3.pb"]


BROKEN = "import pandas_is_not_here  # noqa: F401\n"
FINE = "from roost import task\n\n\n@task\ndef fine(x: int) -> int:\n    return x\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    unique_module(folder, FINE, "fine")
    unique_module(folder, BROKEN, "broken")
    return folder


def test_register_names_the_file_that_does_not_load_and_registers_nothing(project, monkeypatch):
    # No admin listens there: the error must come before any call to it.
    monkeypatch.setenv("ROOST_ENDPOINT", "127.0.0.1:9")
    monkeypatch.setenv("ROOST_CLIENT_CONFIG", str(project.parent / "none.yaml"))
    result = CliRunner().invoke(main, ["register", str(project)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output and "UNAVAILABLE" not in result.output
    broken = next(project.glob("broken_*.py"))
    assert result.output.splitlines() == [
        f"Error: 1 of 2 file(s) under {project} failed to load, so nothing was registered:",
        f"  {broken}: ModuleNotFoundError: No module named 'pandas_is_not_here' ({broken.name}, line 1)",
        "Fix them, or pass --skip-errors to go on without them.",
    ]


def test_compile_and_package_name_the_file_that_does_not_load(project, tmp_path):
    compiled = CliRunner().invoke(main, ["compile", str(project)])
    assert compiled.exit_code == 1
    assert "✗ " in compiled.output and "No module named 'pandas_is_not_here'" in compiled.output
    assert "0 of 0 workflow(s) compiled; 1 file(s) did not load" in compiled.output
    packaged = CliRunner().invoke(main, ["package", str(project), "-o", str(tmp_path / "p.tgz")])
    assert packaged.exit_code == 1
    assert packaged.output.startswith(f"Error: 1 of 2 file(s) under {project} failed to load, so nothing was")
    assert not (tmp_path / "p.tgz").exists()
