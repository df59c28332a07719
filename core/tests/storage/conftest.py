"""The blob stores under test: one Storage per backend, each test under a fresh prefix."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from blob_backends import Backend, make_storage

from roost_core.testing.seaweed import SeaweedS3

BUCKET = "roost-storage-tests"


@pytest.fixture(scope="session")
def s3_bucket(s3_server: SeaweedS3) -> str:
    """A bucket on the session's S3 server for the storage tests."""
    s3_server.create_bucket(BUCKET)
    return BUCKET


@pytest.fixture(params=["mem", "file", pytest.param("s3", marks=pytest.mark.s3)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """The same behaviour suite runs against mem://, file:// and s3://."""
    run = uuid.uuid4().hex
    if request.param == "mem":
        return Backend(make_storage({}), f"mem://tests/{run}")
    if request.param == "file":
        return Backend(make_storage({"file": {"root": str(tmp_path)}}), f"file://{tmp_path}/{run}")
    server: SeaweedS3 = request.getfixturevalue("s3_server")
    bucket: str = request.getfixturevalue("s3_bucket")
    return Backend(make_storage({"s3": server.store_config()}), f"s3://{bucket}/{run}")
