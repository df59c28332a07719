"""``roost-fast-execute``: fetch the code a fast registration uploaded, then run the task command.

    roost-fast-execute --additional-distribution URI --dest-dir DIR -- roost-execute ...

The code archive (``file://``, a local path, ``http(s)://`` or ``s3://``) is unpacked into DIR (created if
missing), DIR goes first on ``PYTHONPATH``, and the command after ``--`` replaces this process. When that command is
``roost-execute`` of this very interpreter, it runs in this process instead: a second interpreter start would only
import Roost again (and would undo a warm start of the local-process handler).
"""

from __future__ import annotations

import io
import os
import shutil
import sys
import tarfile
import urllib.request
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
