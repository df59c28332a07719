"""ShellTask and OutputLocation: shell scripts as tasks, with files in and out."""

from __future__ import annotations

from pathlib import Path

import pytest

from roost import Directory, File, OutputLocation, ShellTask, current_context, kwtypes, task, workflow
from roost.errors import ExecutionFailedError, WorkflowDefinitionError
from roost.serialize import SerializationSettings, Serializer

count_words = ShellTask(
    name="count_words",
    script="""
    set -e
    wc -w < {inputs.text} | tr -d ' ' > {outputs.counted}
    mkdir -p {outputs.folder}
    cp {inputs.text} {outputs.folder}/copy.txt
    echo "{inputs.label} done"
    """,
    inputs=kwtypes(text=File, label=str),
    output_locs=[
        OutputLocation(var="counted", var_type=File, location="{inputs.text}.count"),
        OutputLocation(var="folder", var_type=Directory, location="{ctx.working_directory}/{inputs.label}"),
    ],
)

fails = ShellTask(name="fails", script="echo to stderr >&2; exit 3", retries=1)


@task
def write(words: str) -> File:
    path = current_context().working_directory / "words.txt"
    path.write_text(words)
    return File(str(path))


@task
def read(counted: File, folder: Directory) -> str:
    copied = Path(folder.download(), "copy.txt").read_text()
    return f"{Path(counted.download()).read_text().strip()}:{copied}"


@workflow
def wf(words: str) -> str:
    counted, folder = count_words(text=write(words=words), label="first")
    return read(counted=counted, folder=folder)


def test_a_shell_task_takes_files_and_returns_files_and_folders():
    assert wf(words="one two three") == "3:one two three"


def test_a_failing_script_is_a_recoverable_error_naming_the_exit_code_and_output():
    @workflow
    def bad() -> None:
        fails()

    with pytest.raises(ExecutionFailedError) as failed:
        bad()
    message = str(failed.value)
    assert "task 'fails' raised RecoverableError: the script exited with 3" in message
    assert "stderr:\nto stderr" in message


def test_a_name_the_script_does_not_know_is_named():
    typo = ShellTask(name="typo", script="echo {inputs.nope}", inputs=kwtypes(x=int))

    @workflow
    def bad() -> None:
        typo(x=1)

    with pytest.raises(
        ExecutionFailedError, match=r"the script names 'nope', which is not an input or output"
    ):
        bad()


def test_definition_mistakes_are_named():
    with pytest.raises(WorkflowDefinitionError, match=r"^ShellTask 's': give a script or a script_file$"):
        ShellTask(name="s")
    with pytest.raises(WorkflowDefinitionError, match=r"output 'n' must be a File or Directory"):
        ShellTask(name="s", script="true", output_locs=[OutputLocation(var="n", var_type=int, location="x")])


def test_it_serializes_as_a_python_task_found_by_its_variable():
    template = Serializer(SerializationSettings()).task(count_words)
    assert template.id.name == "test_shell.count_words"
    args = list(template.container.args)
    assert args[args.index("--task-module") + 1] == "test_shell"
    assert args[args.index("--task-name") + 1] == "count_words"
    assert set(template.interface.outputs.variables) == {"counted", "folder"}
