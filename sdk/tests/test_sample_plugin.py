"""The sample plugin package (sdk/tests/plugin_package, installed in the test environment as a user installs a
plugin): its data frame kind, blob store scheme and context attribute, used by `roost run` and by
roost-execute; its task class checked with the plugin test kit; and plugins that fail to load, reported with
their distribution while the rest keeps working."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from flyteidl.core import tasks_pb2
from flyteidl.plugins import spark_pb2
from plugin_flows import sample_plugin
from roost_sample_plugin import Audited, AuditedTask, Grid
from roost_sample_plugin.sqlblob import SqliteBlobStore

from roost import current_context, task
from roost.errors import TaskExecutionError
from roost.extend import SerializationSettings, TaskOptions
from roost.testing import TemplateCheckError, check_task_template, run_in_container

FLOW = str(Path(__file__).parent / "plugin_flows" / "sample_plugin.py")
ROOST = str(Path(sys.executable).with_name("roost"))
LEDGER_LINES = [
    "audited_total: opened",
    "audited_total: summing 3 rows of ['n']",
    "audited_total: typed and untyped ledgers agree",
    "audited_total: returned 3",
    "audited_total: closed",
]


@pytest.fixture(autouse=True)
def plugin_places(tmp_path, monkeypatch):
    """The plugin's data (blob databases, tables, the audit ledger) in the test's own folder."""
    monkeypatch.setenv("ROOST_SAMPLE_SQLBLOB_DIR", str(tmp_path / "sqlblob"))
    monkeypatch.setenv("ROOST_SAMPLE_GRIDTABLE_DB", str(tmp_path / "gridtables.sqlite"))
    monkeypatch.setenv("SAMPLE_AUDIT_BOOK", str(tmp_path / "audit.log"))
    return tmp_path


def roost(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ROOST, *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize("workers", [[], ["--processes"]], ids=["threads", "processes"])
def test_roost_run_uses_the_plugins_frames_store_and_context(plugin_places, workers):
    result = roost("run", "--no-progress", "-o", "json", *workers, FLOW, "wf", "--n", "3")
    assert result.returncode == 0, result.stderr
    outputs = json.loads(result.stdout)
    # audited_total read only its declared column; squares read one column back through sqlblob:// and gridtable://
    assert outputs["o0"] == 3 and outputs["o1"] == [0, 1, 4] and outputs["o2"] == [0, 1, 4]
    assert (plugin_places / "audit.log").read_text().splitlines() == LEDGER_LINES
    blobs = list(SqliteBlobStore().list("sqlblob://flows/grids/one"))
    assert blobs == ["sqlblob://flows/grids/one/part-00000.jsonl"]
    with sqlite3.connect(plugin_places / "gridtables.sqlite") as db:
        assert db.execute('SELECT count(*) FROM "sample"').fetchone() == (3,)
    kept = Path(outputs["o3"])  # the returned grid, written as JSON lines and kept
    assert [json.loads(line) for line in (kept / "part-00000.jsonl").read_text().splitlines()] == [
        {"n": i, "square": i * i, "name": f"r{i}"} for i in range(3)
    ]


def test_roost_run_takes_stored_frames_of_a_plugin_kind_by_uri(plugin_places):
    rows = "".join(json.dumps({"n": i, "other": "x"}) + "\n" for i in range(4))
    SqliteBlobStore().write("sqlblob://cli/grid/part-00000.jsonl", rows.encode())
    result = roost(
        "run", "--no-progress", "-o", "json", FLOW, "audited_total", "--grid", "sqlblob://cli/grid"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"o0": 6}
    assert "audited_total: summing 4 rows of ['n']" in (plugin_places / "audit.log").read_text()


def test_roost_execute_runs_the_task_class_over_the_plugins_store(plugin_places):
    grid = Grid({"n": [1, 2, 3], "other": ["a", "b", "c"]})
    assert run_in_container(sample_plugin.audited_total, {"grid": grid}, prefix="sqlblob://ci/runs") == 6
    lines = (plugin_places / "audit.log").read_text().splitlines()
    assert lines[0] == "audited_total: opened" and lines[-1] == "audited_total: closed"
    names = [uri.rpartition("/")[2] for uri in SqliteBlobStore().list("sqlblob://ci/runs")]
    assert {"inputs.pb", "outputs.pb", "part-00000.jsonl"} <= set(names)


def test_the_test_kit_checks_the_plugins_template():
    template = check_task_template(sample_plugin.audited_total, read_custom=Audited.from_custom)
    assert dict(template.custom) == {"book": "$SAMPLE_AUDIT_BOOK", "level": 2.0, "tags": ["ci"]}
    with pytest.raises(
        TemplateCheckError,
        match=r"^task 'audited_total': TaskTemplate\.custom is not a valid flyteidl\.plugins\.SparkJob: ",
    ):
        check_task_template(sample_plugin.audited_total, custom_message=spark_pb2.SparkJob)
    with pytest.raises(
        TemplateCheckError,
        match=r"^task 'audited_total': TaskTemplate\.custom reads back as Audited\(book='\$SAMPLE_AUDIT_BOOK', "
        r"level=2, tags=\(\)\), not the task's config Audited\(book='\$SAMPLE_AUDIT_BOOK', level=2, tags=\('ci',\)\)$",
    ):
        check_task_template(
            sample_plugin.audited_total, read_custom=lambda c: Audited(c["book"], int(c["level"]))
        )


@task(task_config=Audited(book="unused.log"))
def odd_custom() -> int:
    """Its task class's custom() does not survive the template."""
    return 1


def test_the_test_kit_finds_a_custom_that_is_not_json(monkeypatch):
    monkeypatch.setattr(type(odd_custom), "custom", lambda self, settings: {"when": {1, 2}})
    with pytest.raises(
        TemplateCheckError,
        match=r"^its TaskTemplate cannot be built: task 'odd_custom': AuditedTask\.custom\(\) must return a dict of "
        r"JSON values \(strings, numbers, booleans, None, lists, dicts with string keys\), not \{'when': \{1, 2\}\} ",
    ):
        check_task_template(odd_custom)
    monkeypatch.setattr(type(odd_custom), "custom", lambda self, settings: {"ratio": float("nan")})
    with pytest.raises(
        TemplateCheckError,
        match=r"^task 'odd_custom': TaskTemplate\.custom cannot be read back as JSON: Fail to serialize NaN for "
        r"Value\.number_value, which would parse as string_value$",
    ):
        check_task_template(odd_custom)


class Rewriting(AuditedTask):
    """Writes another custom than custom() returns."""

    def template(self, settings: SerializationSettings) -> tasks_pb2.TaskTemplate:
        template = super().template(settings)
        template.custom["book"] = "elsewhere.log"
        return template


class Outputless(AuditedTask):
    """Declares no outputs in its template, though its function returns one."""

    def template(self, settings: SerializationSettings) -> tasks_pb2.TaskTemplate:
        template = super().template(settings)
        template.interface.outputs.variables.clear()
        return template


def rewritten() -> int:
    """Returns one."""
    return 1


def outputless() -> int:
    """Returns one."""
    return 1


rewritten = Rewriting(rewritten, TaskOptions(), Audited(book="audit.log"))
outputless = Outputless(outputless, TaskOptions(), Audited(book="audit.log"))


def test_the_test_kit_finds_a_template_the_engine_cannot_take():
    with pytest.raises(
        TemplateCheckError,
        match=r"^task 'rewritten': TaskTemplate\.custom holds \{'book': 'elsewhere\.log', 'level': 1\.0, 'tags': "
        r"\[\]\}, not what custom\(\) returned \(\{'book': 'audit\.log', 'level': 1, 'tags': \[\]\}\)$",
    ):
        check_task_template(rewritten)
    with pytest.raises(
        TemplateCheckError,
        match=r"^task 'outputless': its TaskTemplate does not compile: workflow 'outputless-run'",
    ) as failed:
        check_task_template(outputless)
    assert "o0" in str(failed.value)


@task
def plain() -> str:
    """A task of no plugin, reading the plugin's attribute."""
    assert not hasattr(current_context(), "ledger")
    return str(current_context().ledger)


def test_an_attribute_of_a_plugin_names_the_plugin_when_missing():
    with pytest.raises(
        TaskExecutionError,
        match=r"raised MissingContextAttributeError: current_context\(\)\.ledger is not set in task 'plain': it is "
        r"provided by plugin 'sample' \(roost-sample-plugin 0\.1\.0\) \(the audit ledger of tasks declared with "
        r"task_config=Audited\(\.\.\.\)\), and only the task classes of that plugin set it",
    ):
        plain()


def broken_distribution(site: Path) -> None:
    """An installed distribution whose plugins fail in three ways: a missing module (roost.sdk), a missing
    dependency (roost.storage), a misspelled hook (roost.sdk)."""
    info = site / "roost_broken_plugin-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: roost-broken-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[roost.sdk]\nbroken = roost_not_there\ntypo = roost_typo_plugin\n\n[roost.storage]\nbroken = roost_broken_store\n"
    )
    (site / "roost_broken_store.py").write_text("import a_store_client_that_is_not_installed\n")
    (site / "roost_typo_plugin.py").write_text(
        "from roost.extend import hookimpl\n\n@hookimpl\ndef roost_task_typez(register):\n    pass\n"
    )


def test_a_plugin_that_fails_to_load_is_reported_and_the_rest_works(tmp_path, plugin_places):
    site = tmp_path / "site"
    broken_distribution(site)
    env = {"PYTHONPATH": str(site)}
    result = roost("run", "--no-progress", "-o", "json", FLOW, "wf", "--n", "3", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["o0"] == 3
    for expected in (
        "roost: plugin 'broken' (roost.sdk, roost-broken-plugin 0.1) failed to load and is left out: "
        "ModuleNotFoundError: No module named 'roost_not_there'",
        "roost: plugin 'typo' (roost.sdk, roost-broken-plugin 0.1) failed to load and is left out: "
        "PluginValidationError: unknown hook 'roost_task_typez' in plugin",
        "roost: plugin 'broken' (roost.storage, roost-broken-plugin 0.1) failed to load and is left out: "
        "ModuleNotFoundError: No module named 'a_store_client_that_is_not_installed'",
    ):
        assert result.stderr.count(expected) == 1, result.stderr
    # roost-execute too: the task runs over the plugin's store, the broken plugins left out.
    path = os.pathsep.join([str(site), *sys.path])
    grid = Grid({"n": [4, 5]})
    assert (
        run_in_container(
            sample_plugin.audited_total, {"grid": grid}, prefix="sqlblob://ci/b", env={"PYTHONPATH": path}
        )
        == 9
    )
    listing = roost("plugins", env={**env, "COLUMNS": "400"})
    assert listing.returncode == 0, listing.stderr
    rows = [[cell.strip() for cell in line.strip("│").split("│")] for line in listing.stdout.splitlines()]
    for side, problem in [
        ("sdk", "failed to load and is left out: ModuleNotFoundError: No module named 'roost_not_there'"),
        (
            "storage",
            "failed to load and is left out: ModuleNotFoundError: No module named "
            "'a_store_client_that_is_not_installed'",
        ),
    ]:
        assert [side, "broken", "roost-broken-plugin 0.1", problem] in rows, listing.stdout
    assert ["storage", "sample", "roost-sample-plugin 0.1.0", "blob store sqlblob://"] in rows
    assert "current_context().ledger: roost_sample_plugin.ledger.AuditLedger" in listing.stdout


def test_import_roost_extend_imports_nothing_else():
    code = (
        "import sys, roost.extend; print(sorted(m for m in sys.modules if m.startswith(('roost', 'pluggy'))))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "['roost', 'roost.extend', 'roost_core', 'roost_core.lazy']"
