"""As its engine starts, the admin (`roost start`, `roost engine`) logs what needs attention about the installed
plugins, the list `roost plugins` shows, by name with what to do; executions run with the plugins that work.
In this process (an admin with an engine worker) and in `roost start`'s console output."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import execution_support as support
import pytest
from flyteidl.core import execution_pb2

from roost_admin.testing.server import RoostServer
from roost_core.plugins import attention

HANDLER = (
    "from roost_core.plugins.hookspecs import hookimpl\n\n"
    "@hookimpl\ndef roost_task_handlers(register):\n"
    "    from roost_core.handlers.echo import EchoHandler\n"
    "    register({name!r}, EchoHandler, task_types=[{task_type!r}])\n"
)


@pytest.fixture
def troubled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A distribution with a plugin that fails to import, two that serve task type ``twin`` (neither offering
    itself as its default), and one with only its engine side; nothing was reported before in this process.
    Returns the folder it is in (on ``sys.path`` here)."""
    site = tmp_path / "site"
    info = site / "roost_troubled-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: roost-troubled\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[roost.engine]\nbroken = roost_not_there\ntwin_a = roost_twin_a\ntwin_b = roost_twin_b\n"
        "solo = roost_solo\n\n[roost.sdk]\ntwin_a = roost_twin_a_sdk\ntwin_b = roost_twin_b_sdk\n"
    )
    (site / "roost_twin_a.py").write_text(HANDLER.format(name="twin-a", task_type="twin"))
    (site / "roost_twin_b.py").write_text(HANDLER.format(name="twin-b", task_type="twin"))
    (site / "roost_solo.py").write_text(HANDLER.format(name="solo", task_type="solo-job"))
    for twin in ("twin_a", "twin_b"):
        (site / f"roost_{twin}_sdk.py").write_text('"""The SDK side."""\n')
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(attention, "_reported", set())
    return site


EXPECTED = [
    "roost: needs attention: broken: its engine side (roost-troubled 0.1) failed to load and is left out: "
    "ModuleNotFoundError: No module named 'roost_not_there'; what to do: reinstall roost-troubled or upgrade "
    "it to a version matching this Roost; or uninstall it (the other plugins keep working)",
    "roost: needs attention: twin_a and twin_b: task type 'twin' is served by 2 plugins: twin-a (twin_a), "
    "twin-b (twin_b); what to do: choose one with engine.default_for_task_types.twin = <handler> in the "
    "engine's configuration, or uninstall the plugin you do not use",
    "roost: needs attention: solo: only its engine side is installed: `roost run` and workflows written with "
    'roost cannot use its task types; what to do: install its SDK side beside roost (a "roost.sdk" entry '
    "point named solo)",
]


def test_roost_start_prints_each_plugin_problem_in_its_log(
    troubled: Path, tmp_path: Path, roost_start: Callable[..., RoostServer]
) -> None:
    path = os.pathsep.join(filter(None, [str(troubled), os.environ.get("PYTHONPATH")]))
    server = roost_start(tmp_path / "server", env={"PYTHONPATH": path})
    printed = [line.partition(" roost_core.plugins.attention: ")[2] for line in server.log().splitlines()]
    assert [line for line in printed if line] == EXPECTED, server.log()


@pytest.mark.usefixtures("troubled")
def test_engine_start_logs_each_plugin_problem_and_executions_still_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = f"sqlite:///{tmp_path / 'roost.db'}"
    with (
        caplog.at_level(logging.WARNING, logger="roost_core.plugins.attention"),
        support.running_admin(tmp_path, database, workers=1) as (_, admin, _),
    ):
        ident = support.launch(admin, "one", x=1)
        ended = support.wait(admin, ident)
    assert ended.closure.phase == execution_pb2.WorkflowExecution.SUCCEEDED, ended.closure.error.message
    logged = [r.getMessage() for r in caplog.records if r.name == "roost_core.plugins.attention"]
    assert logged == EXPECTED


@pytest.mark.usefixtures("troubled")
def test_a_handler_chosen_in_the_engine_settings_settles_a_task_type_two_plugins_serve(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = {**support.engine_section(), "default_for_task_types": {"twin": "twin-b"}}
    database = f"sqlite:///{tmp_path / 'roost.db'}"
    with (
        caplog.at_level(logging.WARNING, logger="roost_core.plugins.attention"),
        support.running_admin(tmp_path, database, workers=1, register=False, engine=engine),
    ):
        pass  # started: the engine's plugins were checked
    logged = [r.getMessage() for r in caplog.records if r.name == "roost_core.plugins.attention"]
    assert [message.split(": ")[2] for message in logged] == ["broken", "solo"]
