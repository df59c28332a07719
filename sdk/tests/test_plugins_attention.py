"""`roost plugins`' needs-attention section, the same list logged by a local run's engine, and `roost plugins
check NAME`'s messages, against a distribution installed beside the sample plugin whose plugins go wrong in
every way the section reports: one fails to load, two serve the same task type, one registers nothing, one has
only its SDK side and one only its engine side."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOST = str(Path(sys.executable).with_name("roost"))


def troubled_distribution(site: Path) -> None:
    """The distribution, its modules in ``site``."""
    info = site / "roost_troubled-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: roost-troubled\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[roost.engine]\n"
        "broken = roost_not_there\n"
        "twin_a = roost_twin_a\n"
        "twin_b = roost_twin_b\n"
        "idle = roost_idle_engine\n"
        "solo = roost_solo\n\n"
        "[roost.sdk]\n"
        "twin_a = roost_twin_a_sdk\n"
        "twin_b = roost_twin_b_sdk\n"
        "idle = roost_idle_sdk\n"
        "lonely = roost_lonely\n\n"
        "[roost.conformance]\n"
        "twin_a = roost_twin_a_conformance\n"
    )
    for side in ("twin_a_sdk", "twin_b_sdk", "idle_sdk", "idle_engine"):
        (site / f"roost_{side}.py").write_text('"""Registers nothing."""\n')
    handler = (
        "from roost_core.plugins.hookspecs import hookimpl\n\n"
        "@hookimpl\ndef roost_task_handlers(register):\n"
        "    register({name!r}, lambda settings: None, task_types=[{task_type!r}])\n"
    )
    (site / "roost_twin_a.py").write_text(handler.format(name="twin-a", task_type="twin"))
    (site / "roost_twin_b.py").write_text(handler.format(name="twin-b", task_type="twin"))
    (site / "roost_twin_a_conformance.py").write_text(BROKEN_SUBJECT)
    (site / "roost_solo.py").write_text(handler.format(name="solo", task_type="solo-job"))
    (site / "roost_lonely.py").write_text(
        "from roost.extend import hookimpl\nfrom roost_sample_plugin import AuditedTask\n\n"
        "class Lonely:\n    pass\n\n"
        "class LonelyTask(AuditedTask):\n    task_type = 'lonely-job'\n\n"
        "@hookimpl\ndef roost_task_types(register):\n    register(Lonely, LonelyTask)\n"
    )


BROKEN_SUBJECT = """
import pytest
from roost_core.handler import TaskHandler, Transition
from roost_core.plugins.hookspecs import hookimpl
from roost_core.testing.conformance import CHECKS, HandlerConformance, PluginUnderTest, TaskCase
from roost_core.testing.tasks import task_template


class AbortRaises(TaskHandler):
    def handle(self, ctx):
        return Transition.success()

    def abort(self, ctx):
        raise KeyError("job")


class Plugin:
    @hookimpl
    def roost_task_handlers(self, register):
        register("twin-a", AbortRaises, task_types=["twin"])


class TestTwinA(HandlerConformance):
    @pytest.fixture
    def plugin(self):
        return PluginUnderTest(
            plugins=[Plugin()],
            handler="twin-a",
            succeeds=TaskCase(task_template("twin")),
            exemptions={check: "only abort is looked at here" for check in CHECKS if check != "abort_before_handle"},
        )
"""


def pythonpath(site: Path) -> str:
    """``site`` first, then the test's own path (sources run in place of the installed packages)."""
    return os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))


def roost(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ROOST, *args],
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": pythonpath(site), "COLUMNS": "600", "PATH": str(Path(ROOST).parent)},
        timeout=120,
    )


def test_roost_plugins_names_each_plugin_that_needs_attention_and_what_to_do(tmp_path: Path) -> None:
    site = tmp_path / "site"
    troubled_distribution(site)
    listing = roost(site, "plugins")
    assert listing.returncode == 0, listing.stderr
    section = listing.stdout[listing.stdout.index("needs attention") :]
    rows = [[cell.strip() for cell in line.strip("│").split("│")] for line in section.splitlines()]
    expected = [
        [
            "broken",
            "its engine side (roost-troubled 0.1) failed to load and is left out: ModuleNotFoundError: No module "
            "named 'roost_not_there'",
            "reinstall roost-troubled or upgrade it to a version matching this Roost; or uninstall it (the other "
            "plugins keep working)",
        ],
        [
            "twin_a and twin_b",
            "task type 'twin' is served by 2 plugins: twin-a (twin_a), twin-b (twin_b)",
            "choose one with engine.default_for_task_types.twin = <handler> in the engine's configuration, or "
            "uninstall the plugin you do not use",
        ],
        [
            "idle",
            "its SDK side and its engine side registered nothing",
            "implement at least one hook (roost_task_types on the SDK side, roost_task_handlers on the engine "
            "side) in the module its entry point names, and mark it with @hookimpl",
        ],
        [
            "lonely",
            "only its SDK side is installed: no engine handler runs its task types lonely-job",
            'install its engine side where the engine runs (a "roost.engine" entry point named lonely)',
        ],
        [
            "solo",
            "only its engine side is installed: `roost run` and workflows written with roost cannot use its "
            "task types",
            'install its SDK side beside roost (a "roost.sdk" entry point named solo)',
        ],
    ]
    for row in expected:
        assert row in rows, section
    # the sample plugin (both sides, things registered) and the admin's SDK-only commands need nothing
    assert not any(row[0] in ("sample", "admin") for row in rows), section


def test_roost_plugins_check_says_what_to_add_when_no_subject_is_declared(tmp_path: Path) -> None:
    result = roost(tmp_path, "plugins", "check", "sample")
    assert result.returncode == 1
    assert result.stderr == (
        "Error: plugin 'sample' declares no conformance subject. Add to its pyproject.toml:\n\n"
        '[project.entry-points."roost.conformance"]\n'
        'sample = "<its_package>.testing.conformance"\n\n'
        "naming a module with a HandlerConformance subclass (roost_core.testing.conformance) whose `plugin` "
        "fixture returns its PluginUnderTest; then reinstall the plugin\n"
    )
    missing = roost(tmp_path, "plugins", "check", "nope")
    assert missing.returncode == 1
    assert missing.stderr.startswith("Error: no plugin named 'nope' is installed (installed: "), (
        missing.stderr
    )
    assert "sample" in missing.stderr


def test_roost_plugins_check_fails_with_the_suites_message_for_a_broken_plugin(tmp_path: Path) -> None:
    site = tmp_path / "site"
    troubled_distribution(site)
    result = roost(site, "plugins", "check", "twin_a")
    assert result.returncode == 1, result.stdout + result.stderr
    rows = [[cell.strip() for cell in line.strip("│").split("│")] for line in result.stdout.splitlines()]
    failed = [row for row in rows if len(row) == 4 and row[2] == "failed"]
    assert failed == [
        [
            "TestTwinA",
            "abort_and_finalize_are_safe_before_the_first_handle",
            "failed",
            "roost_core.testing.conformance.ConformanceError: twin-a: abort() before the first handle() raised "
            "KeyError: 'job'; with nothing started it must do nothing",
        ]
    ], result.stdout
    skipped = [row for row in rows if len(row) == 4 and row[2] == "skipped"]
    assert len(skipped) == 14 and all(row[3].endswith("only abort is looked at here") for row in skipped)
    assert "0 passed, 1 failed, 14 skipped" in result.stdout


ECHO_WORKFLOW = """
from roost import workflow
from roost.extend import Interface, Task, TaskOptions


class Echo(Task):
    \"\"\"A task the engine's built-in echo handler runs: a local run loads the installed engine plugins.\"\"\"

    task_type = "echo"

    def __init__(self) -> None:
        super().__init__("echo", Interface(inputs={"x": int}, outputs={"x": int}), TaskOptions())

    def template(self, settings):
        template = super().template(settings)
        template.ClearField("container")
        return template


echo = Echo()


@workflow
def wf(x: int = 3) -> int:
    return echo(x=x)
"""


def test_a_local_run_logs_what_needs_attention_and_runs_with_the_plugins_that_work(tmp_path: Path) -> None:
    site = tmp_path / "site"
    troubled_distribution(site)
    (tmp_path / "echo_wf.py").write_text(ECHO_WORKFLOW)
    result = subprocess.run(
        [ROOST, "run", "--no-progress", "-o", "json", "echo_wf.py", "wf", "--x", "7"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={
            "PYTHONPATH": pythonpath(site),
            "PATH": str(Path(ROOST).parent),
            "XDG_DATA_HOME": str(tmp_path / "data"),
            "ROOST_CACHE_DIR": str(tmp_path / "cache"),
        },
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"o0": 7}
    warnings = [line for line in result.stderr.splitlines() if line.startswith("roost: needs attention: ")]
    assert warnings == [
        "roost: needs attention: broken: its engine side (roost-troubled 0.1) failed to load and is left out: "
        "ModuleNotFoundError: No module named 'roost_not_there'; what to do: reinstall roost-troubled or upgrade "
        "it to a version matching this Roost; or uninstall it (the other plugins keep working)",
        "roost: needs attention: twin_a and twin_b: task type 'twin' is served by 2 plugins: twin-a (twin_a), "
        "twin-b (twin_b); what to do: choose one with engine.default_for_task_types.twin = <handler> in the "
        "engine's configuration, or uninstall the plugin you do not use",
        "roost: needs attention: idle: its SDK side and its engine side registered nothing; what to do: "
        "implement at least one hook (roost_task_types on the SDK side, roost_task_handlers on the engine side) "
        "in the module its entry point names, and mark it with @hookimpl",
        "roost: needs attention: lonely: only its SDK side is installed: no engine handler runs its task types "
        'lonely-job; what to do: install its engine side where the engine runs (a "roost.engine" entry point '
        "named lonely)",
        "roost: needs attention: solo: only its engine side is installed: `roost run` and workflows written with "
        'roost cannot use its task types; what to do: install its SDK side beside roost (a "roost.sdk" entry '
        "point named solo)",
    ], result.stderr
