"""Local-process handlers built as the engine builds them, and nothing they started left running."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import roost_core.builtin
from roost_core.handlers._supervise import process_start_time
from roost_core.handlers.local_process import LocalProcessHandler
from roost_core.testing.harness import build_handler

MakeHandler = Callable[..., LocalProcessHandler]


@pytest.fixture
def make_handler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeHandler]:
    """Builds local-process handlers from settings (``work_dir`` defaults to ``tmp_path/work``); whatever
    their warm servers are stopped and whatever their attempts left running is killed after the test. The
    engine's temporary folder, where attempts get theirs, is ``tmp_path/tmp``: a test that does not finalize its
    attempts leaves nothing in the system's."""
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    work_dirs: list[Path] = []
    handlers: list[LocalProcessHandler] = []

    def make(**section: Any) -> LocalProcessHandler:
        section.setdefault("work_dir", str(tmp_path / "work"))
        work_dirs.append(Path(section["work_dir"]))
        handler = build_handler([roost_core.builtin], "local-process", section=section)
        assert isinstance(handler, LocalProcessHandler)
        handlers.append(handler)
        return handler

    yield make
    for handler in handlers:
        handler.close()
    for work_dir in work_dirs:
        for process_file in work_dir.glob("*/process.json"):
            recorded = json.loads(process_file.read_text())
            if process_start_time(recorded["pid"]) in (None, recorded["start_time"]):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(recorded["pid"], signal.SIGKILL)


@pytest.fixture
def handler(make_handler: MakeHandler) -> LocalProcessHandler:
    """A local-process handler with the default settings (its work_dir in the test's folder)."""
    return make_handler()
