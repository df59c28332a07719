"""`roost run` inputs as a user types them: strict parsing, missing inputs and definition errors as one
`Error:` line (never a traceback), docstrings in --help, bool flags, -o anywhere, and --inputs-file."""

from __future__ import annotations

import json
import textwrap
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from roost.cli import main

FLOW = '''
from roost import LaunchPlan, task, workflow


@task
def describe(x: int, xs: list[int], flag: bool, label: str) -> str:
    """Put the inputs in words."""
    return f"{x} {xs} {flag} {label}"


@workflow
def rest_style(x: int, xs: list[int] = [1, 2], flag: bool = False, label: str = "none") -> str:
    """Describe the inputs.

    More about it.

    :param x: how many things
        there are.
    :param xs: the things themselves
    """
    return describe(x=x, xs=xs, flag=flag, label=label)


@workflow
def google_style(x: int, label: str) -> str:
    """Describe, Google style.

    Args:
        x: the count of things
        label (str): what to call them
    """
    return describe(x=x, xs=[x], flag=True, label=label)


nightly = LaunchPlan.get_or_create(rest_style, f"{__name__}.nightly", fixed_inputs={"label": "nightly"})
'''


@pytest.fixture
def flow(tmp_path: Path) -> Path:
    path = tmp_path / f"inputs_{uuid.uuid4().hex[:8]}.py"
    path.write_text(FLOW)
    return path


def run(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["run", "--no-progress", *map(str, args)])
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.strip()]


def test_a_whole_number_is_required_for_int_inputs(flow):
    code, output = run(flow, "rest_style", "--x", "1", "--xs", "[1, 1.5]")
    assert code == 2
    assert "input 'xs' expects list[int], got '[1, 1.5]': 1.5 is not a whole number" in output
    code, output = run(flow, "rest_style", "--x", "1.5")
    assert code == 2 and "input 'x' expects int, got '1.5'" in output
    code, output = run("-o", "json", flow, "rest_style", "--x", "1", "--xs", "[3, 4.0]")
    assert code == 0, output
    assert json.loads(output) == {"o0": "1 [3, 4] False none"}


def test_a_missing_required_input_is_one_error_naming_the_workflow_and_input(flow):
    code, output = run(flow, "rest_style")
    assert code == 2
    assert error_lines(output) == [
        "Error: workflow 'rest_style' needs input 'x' (int): pass --x VALUE, or give it in --inputs-file"
    ]
    code, output = run(flow, "google_style")
    assert error_lines(output) == [
        "Error: workflow 'google_style' needs inputs 'x' (int) and 'label' (str): pass --x VALUE --label "
        "VALUE, or give them in --inputs-file"
    ]


def test_definition_errors_at_load_time_are_one_error_naming_the_file_and_line(tmp_path):
    unannotated = tmp_path / "unannotated_flow.py"
    unannotated.write_text("from roost import task\n\n\n@task\ndef f(x) -> int:\n    return x\n")
    code, output = run(unannotated, "f")
    assert code == 1
    assert error_lines(output) == [
        f"Error: cannot load {unannotated}: task 'f': input 'x' has no type annotation "
        "(unannotated_flow.py, line 4)"
    ]
    missing = tmp_path / "missing_dependency_flow.py"
    missing.write_text("import no_such_package_here\n")
    code, output = run(missing, "wf")
    assert error_lines(output) == [
        f"Error: cannot load {missing}: ModuleNotFoundError: No module named 'no_such_package_here' "
        "(missing_dependency_flow.py, line 1)"
    ]


def test_a_workflow_that_does_not_compile_is_one_error_naming_it_and_the_input(tmp_path):
    broken = tmp_path / "broken_types_flow.py"
    broken.write_text(
        textwrap.dedent(
            """
            from roost import task, workflow

            @task
            def number() -> int:
                return 1

            @task
            def shout(text: str) -> str:
                return text

            @workflow
            def bad() -> str:
                return shout(text=number())
            """
        )
    )
    code, output = run(broken, "bad")
    assert code == 1
    assert output.startswith(
        "Error: workflow 'bad': task 'shout' input 'text' expects str but 'number.o0' is int"
    )
    assert output.count("Error:") == 1


def test_help_shows_each_inputs_docstring_text(flow):
    code, output = run(flow, "rest_style", "--help")
    assert code == 0
    assert "Describe the inputs." in output and "More about it." in output
    assert ":param" not in output
    assert "how many things there are.  [int; required]" in output
    assert "the things themselves  [list[int]; default: [1, 2]]" in output
    assert "--flag / --no-flag" in output
    code, output = run(flow, "google_style", "--help")
    assert "the count of things  [int; required]" in output
    assert "what to call them  [str; required]" in output
    assert "Args:" not in output
    code, output = run(flow, "nightly", "--help")
    assert "Describe the inputs." in output and "how many things there are." in output
    assert "--label" not in output, "a fixed input is not an option"


def test_bool_inputs_are_flags(flow):
    code, output = run("-o", "json", flow, "rest_style", "--x", "2", "--flag")
    assert code == 0, output
    assert json.loads(output) == {"o0": "2 [1, 2] True none"}
    code, output = run("-o", "json", flow, "rest_style", "--x", "2", "--no-flag")
    assert json.loads(output) == {"o0": "2 [1, 2] False none"}
    code, output = run("-o", "json", flow, "describe", "--x", "1", "--xs", "[]", "--flag", "--label", "t")
    assert json.loads(output) == {"o0": "1 [] True t"}


@pytest.mark.parametrize(
    "position",
    [
        ["-o", "json", "{flow}", "rest_style", "--x", "3"],
        ["{flow}", "-o", "json", "rest_style", "--x", "3"],
        ["{flow}", "rest_style", "-o", "json", "--x", "3"],
        ["{flow}", "rest_style", "--x", "3", "--output", "json"],
        ["-o", "table", "{flow}", "rest_style", "--x", "3", "-o", "json"],
    ],
)
def test_o_is_accepted_anywhere(flow, position):
    code, output = run(*(str(flow) if arg == "{flow}" else arg for arg in position))
    assert code == 0, output
    assert json.loads(output) == {"o0": "3 [1, 2] False none"}


def test_inputs_come_from_a_yaml_or_json_file_and_options_win(flow, tmp_path):
    as_yaml = tmp_path / "inputs.yaml"
    as_yaml.write_text("x: 4\nxs: [5, 6]\nflag: true\n")
    code, output = run("-o", "json", flow, "rest_style", "--inputs-file", as_yaml)
    assert code == 0, output
    assert json.loads(output) == {"o0": "4 [5, 6] True none"}
    as_json = tmp_path / "inputs.json"
    as_json.write_text(json.dumps({"x": 4, "label": "from json"}))
    code, output = run("-o", "json", flow, "rest_style", "--inputs-file", as_json, "--x", "9")
    assert json.loads(output) == {"o0": "9 [1, 2] False from json"}


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        (
            "unknown.yaml",
            "x: 1\ncolour: red\n",
            "--inputs-file {path}: workflow 'rest_style' has no input(s) 'colour' (its inputs: x, xs, flag, label)",
        ),
        (
            "fractional.yaml",
            "x: 1\nxs: [1.5]\n",
            "workflow 'rest_style' input 'xs' in {path} expects list[int], got [1.5]: 1.5 is not a whole number",
        ),
        ("list.json", "[1, 2]", "--inputs-file {path} must map input names to values, not hold a list"),
        ("broken.json", "{", "--inputs-file {path} is not valid JSON: Expecting property name"),
    ],
)
def test_a_bad_inputs_file_is_one_error_naming_the_input(flow, tmp_path, name, content, error):
    path = tmp_path / name
    path.write_text(content)
    code, output = run(flow, "rest_style", "--inputs-file", path)
    assert code == 1
    (line,) = error_lines(output)
    assert line.startswith("Error: " + error.format(path=path))


def test_a_structured_dataset_input_takes_a_local_parquet_or_csv_file(tmp_path):
    import pandas as pd

    flow = tmp_path / f"datasets_{uuid.uuid4().hex[:8]}.py"
    flow.write_text(
        textwrap.dedent(
            """
            import pandas as pd

            from roost import StructuredDataset, task, workflow

            @task
            def total(data: StructuredDataset) -> int:
                return int(data.open(pd.DataFrame).all()["n"].sum())

            @workflow
            def wf(data: StructuredDataset) -> int:
                return total(data=data)
            """
        )
    )
    pd.DataFrame({"n": [1, 2, 3]}).to_parquet(tmp_path / "numbers.parquet")
    (tmp_path / "numbers.csv").write_text("n\n4\n5\n")
    code, output = run("-o", "json", flow, "wf", "--data", tmp_path / "numbers.parquet")
    assert code == 0, output
    assert json.loads(output) == {"o0": 6}
    code, output = run("-o", "json", flow, "wf", "--data", tmp_path / "numbers.csv")
    assert json.loads(output) == {"o0": 9}
