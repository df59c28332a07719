"""Tasks that make local files, for roost-execute's tests of where uploads and scratch files go."""

import tempfile
from pathlib import Path

from roost import File, current_context, task


@task
def note(x: int) -> File:
    """A file holding x, uploaded under the raw output prefix."""
    path = Path(tempfile.mkdtemp()) / "note.txt"
    path.write_text(str(x))
    return File(str(path))


@task
def scratch(x: int) -> str:
    """Writes x to a file in the attempt's working directory; returns that directory."""
    folder = current_context().working_directory
    (folder / "x.txt").write_text(str(x))
    return str(folder)
