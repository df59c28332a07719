"""A task that returns a file, for roost-execute's tests of where uploads go."""

import tempfile
from pathlib import Path

from roost import File, task


@task
def note(x: int) -> File:
    """A file holding x, uploaded under the raw output prefix."""
    path = Path(tempfile.mkdtemp()) / "note.txt"
    path.write_text(str(x))
    return File(str(path))
