"""Inputs of a remote execution: local files and folders go to the admin through its DataProxy, as
``pyflyte run --remote`` sends them (``CreateUploadLocation``, a signed PUT, and the admin's own URI of the
upload in the literal), so the tasks read what the user named on their own machine."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from roost.errors import WorkflowDefinitionError
from roost.types.context import TypeContext

if TYPE_CHECKING:
    from flyteidl.core import literals_pb2

    from roost.entity import Entity
    from roost.remote.client import RemoteClient


class UploadContext(TypeContext):
    """A type context whose uploads go through the admin's DataProxy instead of to blob storage.

    A file is filed under its content's MD5; the files of a folder share a ``filename_root`` made from the
    folder's content, so the folder's literal is the admin's URI of that root.
    """

    def __init__(self, client: RemoteClient, project: str, domain: str, work_dir: Path) -> None:
        from roost.plugins.storage import sdk_storage

        work_dir.mkdir(parents=True, exist_ok=True)
        super().__init__(sdk_storage(), work_dir.as_uri(), work_dir=work_dir)
        self.client = client
        self.project = project
        self.domain = domain

    def write(self, uri: str, data: bytes) -> str:
        """Upload ``data`` under the name ``uri`` ends with; returns the admin's URI of it."""
        name = uri.rstrip("/").rpartition("/")[2] or "data"
        return self.client.upload_bytes(self.project, self.domain, data, filename=name)

    def upload_file(self, local_path: str, uri: str) -> str:
        """Upload a local file (its name is kept); returns the admin's URI of it."""
        return self.client.upload_bytes(
            self.project, self.domain, Path(local_path).read_bytes(), filename=os.path.basename(local_path)
        )

    def upload_directory(self, local_dir: str, uri: str) -> str:
        """Upload every file of a local folder under one root; returns the admin's URI of that root."""
        files = _files_of(local_dir)
        if not files:
            raise WorkflowDefinitionError(f"{local_dir!r} is an empty folder: there is nothing to upload")
        root = _folder_digest(files)
        uploaded = ""
        for relative, path in files:
            uploaded = self.client.upload_bytes(
                self.project, self.domain, path.read_bytes(), filename=relative, filename_root=root
            )
        return uploaded[: -len(relative) - 1]


def _files_of(local_dir: str) -> list[tuple[str, Path]]:
    """``(relative path with /, path)`` of every file under ``local_dir``, in a fixed order."""
    found = []
    for folder, dirs, files in os.walk(local_dir):
        dirs.sort()
        for name in sorted(files):
            path = Path(folder) / name
            found.append((path.relative_to(local_dir).as_posix(), path))
    return found


def _folder_digest(files: list[tuple[str, Path]]) -> str:
    """A name for a folder's upload that changes with its content: the same folder uploads to the same
    place, and a changed one never collides with an earlier upload."""
    digest = hashlib.md5(usedforsecurity=False)
    for relative, path in files:
        digest.update(relative.encode() + b"\0")
        digest.update(hashlib.md5(path.read_bytes(), usedforsecurity=False).digest())
    return digest.hexdigest()


def remote_inputs(
    client: RemoteClient, entity: Entity, values: dict[str, Any], *, project: str, domain: str, work_dir: Path
) -> literals_pb2.LiteralMap:
    """The inputs of a remote execution of ``entity`` as literals, local data uploaded through the admin."""
    from roost import _typing

    return _typing.literal_map(entity, values, UploadContext(client, project, domain, work_dir))
