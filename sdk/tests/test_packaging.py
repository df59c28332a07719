"""Fast registration's code archive, and `roost-fast-execute`, which unpacks it before a task runs."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

from roost.packaging import code_archive, python_files, tgz


def make_project(root: Path) -> None:
    for name, text in {
        "pkg/__init__.py": "",
        "pkg/flows.py": "X = 1\n",
        "script.py": "import pkg\n",
        "notes.txt": "not code",
        ".hidden/secret.py": "",
        "pkg/__pycache__/flows.cpython-311.py": "",
        "node_modules/tool.py": "",
        "venv/pyvenv.cfg": "",
        "venv/lib/thing.py": "",
        "pkg/flows.pyc": "",
    }.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def members(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]


def test_the_archive_holds_sources_and_data_files_and_is_byte_identical_for_the_same_code(
    tmp_path: Path,
) -> None:
    make_project(tmp_path)
    name, archive = code_archive(tmp_path)
    assert members(archive) == {
        "notes.txt": b"not code",
        "pkg/__init__.py": b"",
        "pkg/flows.py": b"X = 1\n",
        "script.py": b"import pkg\n",
    }
    assert name.startswith("fast") and name.endswith(".tar.gz")
    assert code_archive(tmp_path) == (name, archive)
    (tmp_path / "pkg" / "flows.py").write_text("X = 2\n")
    changed_name, changed = code_archive(tmp_path)
    assert changed_name != name and changed != archive


def test_python_files_of_a_folder_or_a_file(tmp_path: Path) -> None:
    make_project(tmp_path)
    found = [p.relative_to(tmp_path).as_posix() for p in python_files(str(tmp_path))]
    assert "pkg/flows.py" in found and "script.py" in found
    assert not [p for p in found if "__pycache__" in p]
    assert python_files(str(tmp_path / "script.py")) == [tmp_path / "script.py"]


def fast_execute(*args: str) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).with_name("roost-fast-execute")), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_fast_execute_unpacks_the_code_and_runs_the_command_with_it_importable(tmp_path: Path) -> None:
    make_project(tmp_path / "src")
    archive = tmp_path / "code.tar.gz"
    archive.write_bytes(code_archive(tmp_path / "src")[1])
    dest = tmp_path / "dest"
    probe = "import pkg.flows, os; print(pkg.flows.X, os.getcwd() != '')"
    result = fast_execute(
        "--additional-distribution",
        archive.as_uri(),
        "--dest-dir",
        str(dest),
        "--",
        sys.executable,
        "-c",
        probe,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "1 True\n"
    assert (dest / "pkg" / "flows.py").read_text() == "X = 1\n"


WARM_CHILD = """
import os, sys
from roost import fast_execute

archive, dest = sys.argv[1], sys.argv[2]
argv = ["roost-fast-execute", "--additional-distribution", archive, "--dest-dir", "-", "--", "roost-execute",
        "--inputs", "-", "--task-module", "pkg.flows", "--task-name", "t"]
print(fast_execute.__roost_warm_code__(argv))
print(fast_execute.__roost_warm_code__(["roost-execute", "--task-module", "pkg.flows"]))
fast_execute.__roost_warm_task__(argv)
print(sys.modules["pkg.flows"].X, flush=True)  # before the attempt's command replaces this process
os.remove(archive.removeprefix("file://"))
# An attempt forked from the child: it copies the unpacked code, then runs its command with it importable.
fast_execute.main.main(
    args=["--additional-distribution", archive, "--dest-dir", dest, "--", sys.executable, "-c",
          "import pkg.flows; print(pkg.flows.__file__)"]
)
"""
"""What a warm interpreter's child (``roost_core.handlers._warm``) does with a fast registration's code: name it,
fetch and import it once, then run an attempt of it (which replaces the process)."""


def test_a_warm_child_fetches_the_code_once_for_the_attempts_forked_from_it(tmp_path: Path) -> None:
    make_project(tmp_path / "src")
    archive = tmp_path / "fast0123.tar.gz"
    archive.write_bytes(code_archive(tmp_path / "src")[1])
    dest = tmp_path / "dest"
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    result = subprocess.run(
        [sys.executable, "-c", WARM_CHILD, archive.as_uri(), str(dest)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": os.environ["PATH"], "TMPDIR": str(temporary)},
    )
    assert result.returncode == 0, result.stderr
    [unpacked] = temporary.iterdir()  # where the child unpacked it, once
    assert result.stdout.splitlines() == [
        f"{archive.as_uri()} pkg.flows",
        "None",
        "1",
        str(dest / "pkg" / "flows.py"),  # the attempt's own copy, though the archive was gone
    ]
    assert (unpacked / "pkg" / "flows.py").read_text() == "X = 1\n"


def test_fast_execute_names_code_it_cannot_fetch(tmp_path: Path) -> None:
    missing = (tmp_path / "gone.tar.gz").as_uri()
    result = fast_execute("--additional-distribution", missing, "--dest-dir", str(tmp_path), "--", "true")
    assert result.returncode == 2
    assert result.stderr.startswith(f"roost-fast-execute: cannot fetch the code from {missing}: ")


def test_fast_execute_refuses_an_archive_reaching_outside_its_folder(tmp_path: Path) -> None:
    archive = tmp_path / "evil.tar.gz"
    archive.write_bytes(tgz([("../escaped.py", b"")]))
    result = fast_execute(
        "--additional-distribution", str(archive), "--dest-dir", str(tmp_path / "d"), "--", "true"
    )
    assert result.returncode == 2
    assert "cannot fetch the code from" in result.stderr and "outside" in result.stderr
    assert not (tmp_path / "escaped.py").exists()
