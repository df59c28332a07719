"""The roost CLI: run (inputs from the interface, outputs as a table or JSON), compile, package, cache, plugins."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

from click.testing import CliRunner

from roost.cli import main

FLOWS = Path(__file__).parent / "flows"
SIMPLE = str(FLOWS / "simple.py")


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_run_parses_inputs_from_the_interface_and_prints_json():
    result = invoke("run", "--no-progress", "-o", "json", SIMPLE, "wf", "--x", "4", "--xs", "[2, 4]")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"o0": 6.0, "o1": "total: 9.0"}


def test_run_help_lists_inputs_with_types_and_defaults():
    result = invoke("run", SIMPLE, "wf", "--help")
    assert result.exit_code == 0
    assert "--x" in result.output and "[int; required]" in result.output
    assert "[list[int]; default: [1, 2]]" in result.output
    assert "timedelta" in result.output


def test_run_shows_a_table_by_default_and_runs_launch_plans_and_tasks():
    result = invoke("run", "--no-progress", SIMPLE, "wf", "--x", "2")
    assert result.exit_code == 0, result.output
    assert "o1" in result.output and "'total: 4.5'" in result.output
    result = invoke("run", "--no-progress", "-o", "json", SIMPLE, "nightly")
    assert json.loads(result.output)["o0"] == 6.0
    result = invoke("run", "--no-progress", "-o", "json", SIMPLE, "scale", "--x", "2", "--factor", "3")
    assert json.loads(result.output) == {"o0": 6.0}


def test_an_input_that_does_not_parse_names_the_input_and_its_type():
    result = CliRunner().invoke(main, ["run", SIMPLE, "wf", "--x", "four"])
    assert result.exit_code == 2
    assert "input 'x' expects int, got 'four'" in result.output
    result = CliRunner().invoke(main, ["run", SIMPLE, "wf", "--x", "1", "--xs", "[1, two]"])
    assert "input 'xs' expects list[int], got '[1, two]'" in result.output


def test_an_unknown_entity_lists_the_ones_there_are():
    result = CliRunner().invoke(main, ["run", SIMPLE, "nope"])
    assert result.exit_code == 2
    assert (
        "has no workflow, task or launch plan 'nope'; it has: explode, fan, fan_wf, label, nightly, scale, stumble, wf"
        in result.output
    )


def test_a_failed_run_exits_nonzero_with_the_error(tmp_path):
    flow = tmp_path / "failing.py"
    flow.write_text(
        "from roost import task, workflow\n\n"
        "@task\ndef boom(x: int) -> int:\n    raise RuntimeError('no good')\n\n"
        "@workflow\ndef wf(x: int = 1) -> int:\n    return boom(x=x)\n"
    )
    result = CliRunner().invoke(main, ["run", "--no-progress", str(flow), "wf"])
    assert result.exit_code == 1
    assert "workflow 'wf' failed: node 'n0': task 'boom' raised RuntimeError: no good" in result.output


def test_compile_prints_every_error_and_fails():
    ok = invoke("compile", SIMPLE)
    assert ok.exit_code == 0
    assert "✓ flows.simple.wf" in ok.output
    result = CliRunner().invoke(main, ["compile", str(FLOWS)])
    assert result.exit_code == 1
    assert "✗ flows.broken.bad" in result.output
    assert "task 'shout' input 'text' expects str but 'number.o0' is int" in result.output
    assert "2 of 3 workflow(s) compiled" in result.output


def test_package_writes_one_pb_per_entity_like_pyflyte(tmp_path):
    out = tmp_path / "pkg.tgz"
    result = invoke("package", SIMPLE, "-o", str(out))
    assert result.exit_code == 0, result.output
    with tarfile.open(out) as tar:
        names = tar.getnames()
    assert "00_flows.simple.scale_1.pb" in names
    assert any(n.endswith("flows.simple.wf_2.pb") for n in names)
    assert any(n.endswith("simple.nightly_3.pb") for n in names)
    assert any(n.endswith("flows.simple.wf_3.pb") for n in names), "the default launch plan"
    assert any(n.startswith("fast") and n.endswith(".tar.gz") for n in names)


def test_cache_clear_reports_what_it_removed():
    result = invoke("cache", "clear")
    assert result.exit_code == 0
    assert result.output.startswith("removed 0 cache entries from ")


def test_plugins_lists_both_sides_with_their_distributions(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    result = invoke("plugins")
    assert result.exit_code == 0
    assert "roost.types.builtin" in result.output
    assert "local-process" in result.output and "python-task" in result.output
    rows = [[cell.strip() for cell in line.strip("│").split("│")] for line in result.output.splitlines()]
    sides = {(row[0], row[1]): row[2] for row in rows if len(row) == 4 and row[0]}
    # the sample plugin (sdk/tests/plugin_package) installs all three sides
    for side in ("sdk", "storage", "engine"):
        assert sides[(side, "sample")] == "roost-sample-plugin 0.1.0"
    assert sides[("engine", "roost_core.builtin")] == "built in"


def test_plugins_shows_each_task_types_candidates_the_choice_and_why(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    result = invoke("plugins")
    assert result.exit_code == 0, result.output
    rows = [
        [cell.strip() for cell in line.strip("│").split("│")]
        for line in result.output.split("task types", 1)[1].splitlines()
        if line.startswith("│")
    ]
    default = "the default offered by plugin 'roost_core.builtin'"
    assert ["python-task", "local-process", "roost_core.builtin", "yes", default] in rows
    assert ["echo", "echo", "roost_core.builtin", "yes", default] in rows


def test_build_prints_the_dockerfile_of_image_specs(tmp_path):
    flow = tmp_path / "imaged.py"
    flow.write_text(
        "from roost import ImageSpec, task\n\n"
        "spec = ImageSpec(name='trainer', packages=['scikit-learn'], apt_packages=['git'], env={'A': '1'})\n\n"
        "@task(container_image=spec)\ndef t() -> None:\n    pass\n"
    )
    result = invoke("build", "--print", str(flow))
    assert result.exit_code == 0, result.output
    assert "FROM python:3.11-slim" in result.output
    assert "pip install --no-cache-dir roost scikit-learn" in result.output
    assert "# trainer:" in result.output
