"""`roost plugin new`: the files it writes, and its errors for bad names and folders. The generated packages'
own tests run in tests/e2e/test_plugin_new.py (they need a virtual environment of their own)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from click.testing import CliRunner

from roost.cli import main


def new(tmp_path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["plugin", "new", *args, "--dir", str(tmp_path)])
    return result.exit_code, result.output


def test_it_writes_a_package_with_both_entry_points_and_every_part(tmp_path: Path) -> None:
    code, output = new(tmp_path, "word_count", "--kind", "in-process")
    assert code == 0, output
    root = tmp_path / "roost-word-count"
    assert f"wrote {root}" in output
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert files == [
        "README.md",
        "examples/workflow.py",
        "pyproject.toml",
        "src/roost_word_count/__init__.py",
        "src/roost_word_count/engine.py",
        "src/roost_word_count/handler.py",
        "src/roost_word_count/py.typed",
        "src/roost_word_count/sdk.py",
        "src/roost_word_count/task.py",
        "tests/test_conformance.py",
        "tests/test_task.py",
    ]
    pyproject = (root / "pyproject.toml").read_text()
    assert '[project.entry-points."roost.engine"]\nword_count = "roost_word_count.engine"' in pyproject
    assert '[project.entry-points."roost.sdk"]\nword_count = "roost_word_count.sdk"' in pyproject
    for path in root.rglob("*.py"):
        ast.parse(path.read_text(), str(path))  # every template rendered to valid Python
        assert "$" not in path.read_text(), f"{path} has an unrendered placeholder"
    task = (root / "src/roost_word_count/task.py").read_text()
    assert (
        'TASK_TYPE = "word-count"' in task
        and "class WordCountConfig" in task
        and "class WordCountTask(Task)" in task
    )


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("my-task", "plugin name 'my-task' is not a Python identifier"),
        ("2fast", "plugin name '2fast' is not a Python identifier"),
        ("class", "plugin name 'class' is not a Python identifier"),
        ("MyTask", "plugin name 'MyTask' must be lowercase and start with a letter (e.g. 'mytask')"),
        ("_hidden", "plugin name '_hidden' must be lowercase and start with a letter (e.g. 'hidden')"),
    ],
)
@pytest.mark.parametrize("kind", ["in-process", "k8s"])
def test_a_bad_name_is_refused_naming_it(tmp_path: Path, name: str, message: str, kind: str) -> None:
    code, output = new(tmp_path, name, "--kind", kind)
    assert code != 0
    assert message in output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", ["in-process", "k8s"])
def test_an_existing_folder_is_never_overwritten(tmp_path: Path, kind: str) -> None:
    (tmp_path / "roost-taken").mkdir()
    (tmp_path / "roost-taken" / "mine.txt").write_text("keep")
    code, output = new(tmp_path, "taken", "--kind", kind)
    assert code != 0
    assert f"{tmp_path / 'roost-taken'} already exists: choose another name or --dir, or remove it" in output
    assert [p.name for p in (tmp_path / "roost-taken").iterdir()] == ["mine.txt"]


def test_an_unknown_kind_lists_the_kinds(tmp_path: Path) -> None:
    code, output = new(tmp_path, "x", "--kind", "nope")
    assert code != 0
    assert "Invalid value for '--kind': 'nope' is not one of 'in-process', 'remote-job', 'k8s'" in output


def test_a_remote_job_plugin_gets_its_jobs_settings_and_a_service_stand_in(tmp_path: Path) -> None:
    code, output = new(tmp_path, "rates", "--kind", "remote-job")
    assert code == 0, output
    package = tmp_path / "roost-rates" / "src" / "roost_rates"
    assert sorted(p.name for p in package.rglob("*.py")) == [
        "__init__.py",
        "__init__.py",
        "engine.py",
        "jobs.py",
        "sdk.py",
        "service.py",
        "settings.py",
        "task.py",
    ]
    assert "class RatesJobs(RemoteJobPlugin[JobStatus]):" in (package / "jobs.py").read_text()
    assert 'URL_ENV = "ROOST_RATES_URL"' in (package / "settings.py").read_text()
    assert 'settings="roost_rates.settings:RatesSettings"' in (package / "engine.py").read_text()


def test_a_k8s_plugin_gets_a_kubernetes_handler_its_settings_and_test_server_tests(tmp_path: Path) -> None:
    code, output = new(tmp_path, "render", "--kind", "k8s")
    assert code == 0, output
    root = tmp_path / "roost-render"
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert files == [
        "README.md",
        "examples/workflow.py",
        "pyproject.toml",
        "src/roost_render/__init__.py",
        "src/roost_render/engine.py",
        "src/roost_render/handler.py",
        "src/roost_render/py.typed",
        "src/roost_render/sdk.py",
        "src/roost_render/settings.py",
        "src/roost_render/task.py",
        "tests/cases.py",
        "tests/conftest.py",
        "tests/test_conformance.py",
        "tests/test_task.py",
    ]
    for path in root.rglob("*.py"):
        ast.parse(path.read_text(), str(path))
    handler = (root / "src/roost_render/handler.py").read_text()
    assert "class RenderHandler(K8sResourceHandler):" in handler and "resource_kind = POD" in handler
    assert "result=$((X * FACTOR)); " in handler  # the shell's $ survives the template's escaping
    assert "class RenderSettings(K8sHandlerSettings):" in (root / "src/roost_render/settings.py").read_text()
    pyproject = (root / "pyproject.toml").read_text()
    assert 'dependencies = ["roost-core", "roost", "roost-k8s-pod"]' in pyproject
    assert '"roost-k8s-pod[testing]"' in pyproject
    assert '[project.entry-points."roost.engine"]\nrender = "roost_render.engine"' in pyproject
    assert "kube_test_server" in (root / "tests/conftest.py").read_text()


STABLE_SURFACES = ("roost", "roost.extend", "roost_core.extend", "roost_k8s_pod")
"""What a generated package may import from Roost (its tests also use the test kits ``*.testing``)."""


@pytest.mark.parametrize("kind", ["in-process", "remote-job", "k8s"])
def test_a_generated_package_imports_roost_only_through_its_stable_surfaces(
    tmp_path: Path, kind: str
) -> None:
    code, output = new(tmp_path, "word_count", "--kind", kind)
    assert code == 0, output
    root = tmp_path / "roost-word-count"
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            for module in modules:
                if module.split(".")[0] not in ("roost", "roost_core", "roost_k8s_pod"):
                    continue
                testing = ".testing" in module and path.is_relative_to(root / "tests")
                assert module in STABLE_SURFACES or testing, f"{path.relative_to(root)} imports {module}"
