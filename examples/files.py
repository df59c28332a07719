"""Files and folders produced by one task and read by the next."""

from pathlib import Path

from roost import Directory, File, current_context, task, workflow


@task
def write_lines(count: int) -> File:
    """A text file with `count` lines."""
    path = Path(current_context().working_directory) / "lines.txt"
    path.write_text("".join(f"line {i}\n" for i in range(count)))
    return File(str(path))


@task
def split(source: File) -> Directory:
    """One file per line, in a folder."""
    folder = Path(current_context().working_directory) / "parts"
    folder.mkdir()
    with open(source.download()) as lines:
        for number, line in enumerate(lines):
            (folder / f"{number}.txt").write_text(line)
    return Directory(str(folder))


@task
def count_files(folder: Directory) -> int:
    """How many files the folder holds."""
    return sum(1 for _ in Path(folder.download()).iterdir())


@workflow
def wf(count: int = 5) -> tuple[int, File]:
    """Write, split and count; also return the original file."""
    source = write_lines(count=count)
    return count_files(folder=split(source=source)), source
