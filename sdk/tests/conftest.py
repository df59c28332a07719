"""SDK test fixtures: a private cache and data folder per test, so runs never touch the user's."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def private_folders(tmp_path, monkeypatch):
    """Point the local cache and the kept-outputs folder at the test's own folder."""
    monkeypatch.setenv("ROOST_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path


@pytest.fixture
def no_progress():
    """Local runs in this test print log lines, not a live table."""
    from roost.local.runner import local_options

    with local_options(progress=False) as options:
        yield options
