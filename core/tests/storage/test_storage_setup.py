"""Building a Storage from the registered stores, and the router's errors."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from blob_backends import make_storage

from roost_core.errors import ConfigurationError
from roost_core.plugins import EnginePlugins, hookimpl
from roost_core.plugins.hookspecs import RegisterStore
from roost_core.storage import (
    FileStore,
    MemoryStore,
    S3Store,
    Storage,
    StorageError,
    build_storage,
)


def test_every_builtin_scheme_is_served_by_default() -> None:
    storage = make_storage({})
    assert storage.schemes == ("file", "mem", "s3")
    assert isinstance(storage.store_for("file:///tmp/x"), FileStore)
    assert isinstance(storage.store_for("mem://a/b"), MemoryStore)
    assert isinstance(storage.store_for("s3://bucket/key"), S3Store)


def test_each_store_gets_its_own_configuration_section(tmp_path: Path) -> None:
    storage = make_storage({"file": {"root": str(tmp_path)}})
    with pytest.raises(StorageError, match="is outside the storage root"):
        storage.write("file:///etc/roost-test", b"")
    storage.write(f"file://{tmp_path}/inside", b"ok")
    assert storage.read(f"file://{tmp_path}/inside") == b"ok"


def test_a_section_for_an_unknown_scheme_is_refused() -> None:
    with pytest.raises(ConfigurationError) as raised:
        make_storage({"gcs": {"bucket": "x"}})
    assert str(raised.value) == (
        "storage configuration has section(s) gcs but no installed blob store serves them; "
        "installed: file, mem, s3"
    )


def test_a_bad_section_fails_building() -> None:
    with pytest.raises(ConfigurationError, match="unknown file storage option"):
        make_storage({"file": {"rot": "/data"}})


def test_plugin_stores_are_built_too() -> None:
    built: list[Mapping[str, Any]] = []

    class Plugin:
        @staticmethod
        @hookimpl
        def roost_blob_stores(register: RegisterStore) -> None:
            def factory(config: Mapping[str, Any]) -> MemoryStore:
                built.append(config)
                return MemoryStore()

            register("gcs", factory)

    storage = build_storage(EnginePlugins([Plugin()], entry_points=False), {"gcs": {"project": "p"}})
    assert "gcs" in storage.schemes
    assert built == [{"project": "p"}]


def test_an_unknown_scheme_lists_the_configured_ones() -> None:
    storage = make_storage({})
    with pytest.raises(StorageError) as raised:
        storage.read("gs://bucket/key")
    assert str(raised.value) == (
        "no blob store for gs:// in 'gs://bucket/key'; configured: file://, mem://, s3://"
    )


def test_a_string_that_is_not_a_uri_is_refused() -> None:
    with pytest.raises(StorageError) as raised:
        make_storage({}).write("outputs/outputs.pb", b"")
    assert str(raised.value) == (
        "'outputs/outputs.pb' is not a URI: expected scheme://path (file://, s3://, ...)"
    )


def test_a_plain_absolute_path_is_a_blob_of_the_file_store(tmp_path: Path) -> None:
    # As literals record the local store's blobs (flytekit cannot open file:// URIs of files and folders).
    storage = make_storage({})
    storage.write(f"file://{tmp_path}/blob", b"data")
    assert storage.read(f"{tmp_path}/blob") == b"data"
    with pytest.raises(StorageError, match=r"^'/x/y' is not a URI"):
        Storage({"mem": MemoryStore()}).read("/x/y")


def test_an_empty_storage_says_none_are_configured() -> None:
    with pytest.raises(StorageError, match="configured: none"):
        Storage({}).read("mem://x/y")
