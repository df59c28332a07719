"""Where the admin keeps things in the blob store, under the configured storage prefix.

- registered entities: ``{prefix}/registry/{project}/{domain}/{tasks|workflows|launch_plans}/{name}/{version}.pb``
- execution data (the engine's data prefix: inputs.pb, node data below it):
  ``{prefix}/executions/{project}/{domain}/{name}``
- compiled closures and execution specs, each stored once by its content (executions that run the same closure,
  or were launched with the same spec, share one): ``{prefix}/closures/{project}/{domain}/{sha256 hex}.pb``,
  ``{prefix}/specs/{project}/{domain}/{sha256 hex}.pb``
- raw outputs of an execution: ``{prefix}/raw/{project}/{domain}/{name}``
- DataProxy uploads: ``{prefix}/uploads/{project}/{domain}/{md5 hex or filename_root}/{filename}``

Every function takes parts the admin has already validated (identifiers, file names); none of them reads or
writes anything. :func:`within` tells whether a URI a client sent lies under the prefix.

Clients are given a blob of the local ``file://`` store by its plain absolute path (:func:`client_uri`), as
task code is given the store's raw output prefix (``roost_core.container.local_data_path``): flytekit puts
what the DataProxy hands it into FlyteFile and FlyteDirectory literals, and cannot open a ``file://`` URI
there. What clients send back is read either way (:func:`stored_uri`).
"""

from __future__ import annotations

import os

from flyteidl.core import identifier_pb2

from roost_core.storage import Storage

ENTITY_FOLDERS = {
    identifier_pb2.TASK: "tasks",
    identifier_pb2.WORKFLOW: "workflows",
    identifier_pb2.LAUNCH_PLAN: "launch_plans",
}
"""The registry folder of each registrable resource type."""
ATTRIBUTES = "attributes.pb"
"""The blob under an execution's data prefix listing the matchable attributes that applied to it (written only
when some did)."""
DATA_PATH = "/data"
"""Where the admin's HTTP endpoint serves the signed URLs of the local store (its ``url_base`` is the endpoint's
URL followed by this)."""


def entity_closure_uri(prefix: str, identifier: identifier_pb2.Identifier) -> str:
    """The blob holding a registered task, workflow or launch plan version (its admin message)."""
    folder = ENTITY_FOLDERS.get(identifier.resource_type)
    if folder is None:
        raise ValueError(
            f"resource type {identifier_pb2.ResourceType.Name(identifier.resource_type)} is not registrable"
        )
    return Storage.join(
        prefix,
        "registry",
        identifier.project,
        identifier.domain,
        folder,
        identifier.name,
        f"{identifier.version}.pb",
    )


def execution_data_prefix(prefix: str, project: str, domain: str, name: str) -> str:
    """The data prefix of an execution: inputs, the compiled closure and node data live below it."""
    return Storage.join(prefix, "executions", project, domain, name)


def closure_uri(prefix: str, project: str, domain: str, digest: str) -> str:
    """Where the compiled closure whose serialized bytes have the SHA-256 ``digest`` (hex) is stored, for the
    executions of ``project``/``domain`` that run it."""
    return Storage.join(prefix, "closures", project, domain, f"{digest}.pb")


def spec_uri(prefix: str, project: str, domain: str, digest: str) -> str:
    """Where the execution spec whose serialized bytes have the SHA-256 ``digest`` (hex) is stored, for the
    executions of ``project``/``domain`` launched with it."""
    return Storage.join(prefix, "specs", project, domain, f"{digest}.pb")


def raw_output_prefix(prefix: str, project: str, domain: str, name: str) -> str:
    """Where an execution's tasks write raw (offloaded) data, unless its spec names another place."""
    return Storage.join(prefix, "raw", project, domain, name)


def upload_uri(prefix: str, project: str, domain: str, root: str, filename: str) -> str:
    """Where a DataProxy upload goes; ``root`` is the content's md5 (hex) or the caller's filename_root."""
    return Storage.join(prefix, "uploads", project, domain, root, filename)


def client_uri(uri: str) -> str:
    """How clients are told where a blob of the storage is: a ``file:///path`` as ``/path``, others as they
    are."""
    return uri[len(_FILE_SCHEME) :] if uri.startswith(_FILE_SCHEME + "/") else uri


def stored_uri(url: str) -> str:
    """The storage URI of a blob a client names: a plain absolute path (:func:`client_uri`) as its ``file://``
    URI, others as they are."""
    return _FILE_SCHEME + url if url.startswith("/") else url


_FILE_SCHEME = "file://"


def within(uri: str, prefix: str) -> bool:
    """Whether ``uri`` names a blob under ``prefix`` (``..`` cannot climb out of it)."""
    scheme, sep, path = uri.partition("://")
    prefix_scheme, _, prefix_path = prefix.partition("://")
    if not sep or scheme != prefix_scheme:
        return False
    if scheme == "file":
        path = os.path.normpath(path)
        prefix_path = os.path.normpath(prefix_path)
    elif any(part in (".", "..") for part in path.split("/")):
        return False
    return path.startswith(prefix_path.rstrip("/") + "/")
