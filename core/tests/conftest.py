"""Fixtures shared by roost-core's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from roost_core.testing.seaweed import SeaweedS3, WeedNotFoundError


@pytest.fixture(scope="session")
def s3_server() -> Iterator[SeaweedS3]:
    """A SeaweedFS S3 server shared by the whole test session; tests create the buckets they use."""
    server = SeaweedS3()
    try:
        server.start()
    except WeedNotFoundError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()
