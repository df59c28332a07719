"""``roost-fast-execute``: fetch the code a fast registration uploaded, then run the task command.

    roost-fast-execute --additional-distribution URI --dest-dir DIR -- roost-execute ...

The code archive (``file://``, a local path, ``http(s)://`` or ``s3://``) is unpacked into DIR (created if
missing), DIR goes first on ``PYTHONPATH``, and the command after ``--`` replaces this process. When that command is
``roost-execute`` of this very interpreter, it runs in this process instead: a second interpreter start would only
import Roost again (and would undo a warm start of the local-process handler).

For that handler's warm interpreters it declares ``roost-execute``'s warm-up, the code an attempt runs (its archive
and task module), and how a warm child fetches that code and imports its module once for the attempts forked from
it (``__roost_warm_up__``, ``__roost_warm_code__``, ``__roost_warm_task__``).
"""

from __future__ import annotations

import importlib
import io
import itertools
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.request
from collections.abc import Callable
from pathlib import Path

import click


def fetch(uri: str) -> bytes:
    """The bytes at ``uri``."""
    if uri.startswith(("http://", "https://")):
        with urllib.request.urlopen(uri, timeout=300) as response:
            data: bytes = response.read()
            return data
    if "://" not in uri or uri.startswith("file://"):
        return Path(uri.removeprefix("file://")).read_bytes()
    from roost.execute import storage_from_environment

    return storage_from_environment().read(uri)


def unpack(archive: bytes, destination: Path) -> None:
    """Unpack a tar.gz into ``destination``, refusing entries that would land outside it."""
    destination.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        tar.extractall(destination, filter="data")


@click.command(context_settings={"ignore_unknown_options": True})
@click.option("--additional-distribution", "distribution", required=True, help="URI of the code archive.")
@click.option("--dest-dir", default=".", show_default=True, help="Where to unpack it.")
@click.argument("command", nargs=-1, type=click.UNPROCESSED, required=True)
def main(distribution: str, dest_dir: str, command: tuple[str, ...]) -> None:
    """Fetch and unpack the task's code, then run COMMAND (everything after --)."""
    destination = Path(dest_dir).resolve()
    try:
        unpacked = _UNPACKED.get(distribution)
        if unpacked is not None:  # this warm child unpacked it already
            shutil.copytree(unpacked, destination, dirs_exist_ok=True)
        else:
            unpack(fetch(distribution), destination)
    except (OSError, tarfile.TarError) as exc:
        click.echo(f"roost-fast-execute: cannot fetch the code from {distribution}: {exc}", err=True)
        sys.exit(2)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(destination), os.environ.get("PYTHONPATH")]))
    arguments = list(command[1:] if command and command[0] == "--" else command)
    if _ours(arguments[0]):
        # Where the new interpreter would have put it: after the script's folder, first of PYTHONPATH.
        sys.path.insert(1, str(destination))
        from roost.execute import main as execute

        execute.main(args=arguments[1:], prog_name=arguments[0])
    os.execvp(arguments[0], arguments)


def __roost_warm_up__() -> None:
    """``roost-execute``'s warm-up, since that command runs in this process: called once by a warm interpreter
    (``roost_core.handlers._warm``) before it forks attempts."""
    from roost.execute import __roost_warm_up__ as warm_up

    warm_up()


def __roost_warm_code__(argv: list[str]) -> str | None:
    """The code the command line ``argv`` runs: its archive and task module, or None. Fast registration names an
    archive by its content's digest (``fast<md5>.tar.gz``), so equal keys are equal code: a warm interpreter's
    child that imported it serves every attempt of that key (``roost_core.handlers._warm``)."""
    code = _archive_and_module(argv)
    return " ".join(code) if code is not None else None


_UNPACKED: dict[str, Path] = {}
"""The archive a warm child unpacked once, by URI: the attempts forked from it copy that folder."""


def __roost_warm_task__(argv: list[str]) -> Callable[[], None] | None:
    """In a warm child, before the attempts of the command line ``argv`` are forked from it: fetch and unpack its
    archive once into a folder of the child, put that folder on ``sys.path`` as :func:`main` does, and import the task's
    module there (in that folder, as an attempt imports it in its working directory). The attempts then copy the
    folder instead of fetching the archive, and find the module imported. Returns what removes the folder."""
    code = _archive_and_module(argv)
    if code is None:
        return None
    distribution, module = code
    folder = Path(tempfile.mkdtemp(prefix="roost-code-"))
    here = os.getcwd()
    try:
        unpack(fetch(distribution), folder)
        sys.path.insert(1, str(folder))
        os.chdir(folder)
        importlib.import_module(module)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        os.chdir(here)
    _UNPACKED[distribution] = folder
    return lambda: shutil.rmtree(folder, ignore_errors=True)


def _archive_and_module(argv: list[str]) -> tuple[str, str] | None:
    """The code archive (``--additional-distribution``) and task module (``--task-module`` of the command after
    ``--``) of a ``roost-fast-execute`` command line, or None without both."""
    options: dict[str, str] = {}
    for name, value in itertools.pairwise(argv):
        options.setdefault(name, value)  # the first of each
    distribution, module = options.get("--additional-distribution"), options.get("--task-module")
    return (distribution, module) if distribution and module else None


def _ours(command: str) -> bool:
    """Whether ``command`` is ``roost-execute`` installed for this interpreter (its ``#!`` line names it)."""
    if Path(command).name != "roost-execute":
        return False
    script = shutil.which(command)
    if script is None:
        return False
    try:
        with open(script, "rb") as stream:
            first = stream.readline(4096).decode()
    except (OSError, UnicodeDecodeError):
        return False
    interpreter = first.removeprefix("#!").strip()
    return first.startswith("#!") and os.path.abspath(interpreter) == os.path.abspath(sys.executable)
