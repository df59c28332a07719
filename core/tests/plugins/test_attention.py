"""What needs attention about the installed plugins, as an engine logs it when it starts: each problem by the
plugin's name with what to do, once per process, while the plugins that work are used."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from roost_core.engine import EngineConfig
from roost_core.handlers.echo import EchoHandler
from roost_core.plugins import EnginePlugins, attention
from roost_core.plugins.attention import SdkSides, report_attention

HANDLER = (
    "from roost_core.plugins.hookspecs import hookimpl\n\n"
    "@hookimpl\ndef roost_task_handlers(register):\n"
    "    from roost_core.handlers.echo import EchoHandler\n"
    "    register({name!r}, EchoHandler, task_types=[{task_type!r}], default={default})\n"
)
PLUGINS = ("broken", "twin_a", "twin_b", "idle", "solo", "lonely")


@pytest.fixture
def troubled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A distribution whose engine sides go wrong in every way: one fails to import, two serve task type
    ``twin`` with neither offering itself as its default, one registers nothing, one has no SDK side; and
    ``lonely`` has only its SDK side. Nothing was reported before in this process."""
    site = tmp_path / "site"
    info = site / "roost_troubled-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: roost-troubled\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[roost.engine]\nbroken = roost_not_there\ntwin_a = roost_twin_a\ntwin_b = roost_twin_b\n"
        "idle = roost_idle\nsolo = roost_solo\n\n"
        "[roost.sdk]\ntwin_a = roost_twin_sdk\ntwin_b = roost_twin_sdk\nidle = roost_twin_sdk\n"
        "lonely = roost_twin_sdk\n"
    )
    (site / "roost_twin_a.py").write_text(HANDLER.format(name="twin-a", task_type="twin", default=False))
    (site / "roost_twin_b.py").write_text(HANDLER.format(name="twin-b", task_type="twin", default=False))
    (site / "roost_solo.py").write_text(HANDLER.format(name="solo", task_type="solo-job", default=True))
    (site / "roost_idle.py").write_text('"""Registers nothing."""\n')
    (site / "roost_twin_sdk.py").write_text('"""An SDK side (this test gives what it registered)."""\n')
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(attention, "_reported", set())


def sdk_sides() -> SdkSides:
    """What the SDK would say of the distribution's SDK sides."""
    return SdkSides(
        problems=[],
        provides={
            "twin_a": ["task_config TwinA → twin"],
            "twin_b": ["task_config TwinB → twin"],
            "idle": [],
            "lonely": ["task_config Lonely → lonely-job"],
        },
        written={"twin_a": ["twin"], "twin_b": ["twin"], "lonely": ["lonely-job"]},
    )


def logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "roost_core.plugins.attention"
        and record.levelno == logging.WARNING
        and any(f" {name}" in record.getMessage() for name in PLUGINS)
    ]


@pytest.mark.usefixtures("troubled")
def test_each_problem_is_logged_by_name_with_what_to_do_and_the_rest_keeps_working(
    caplog: pytest.LogCaptureFixture,
) -> None:
    plugins = EnginePlugins()
    with caplog.at_level(logging.WARNING):
        report_attention(plugins, sdk_sides)
    assert logged(caplog) == [
        "roost: needs attention: broken: its engine side (roost-troubled 0.1) failed to load and is left out: "
        "ModuleNotFoundError: No module named 'roost_not_there'; what to do: reinstall roost-troubled or "
        "upgrade it to a version matching this Roost; or uninstall it (the other plugins keep working)",
        "roost: needs attention: twin_a and twin_b: task type 'twin' is served by 2 plugins: twin-a (twin_a), "
        "twin-b (twin_b); what to do: choose one with engine.default_for_task_types.twin = <handler> in the "
        "engine's configuration, or uninstall the plugin you do not use",
        "roost: needs attention: idle: its SDK side and its engine side registered nothing; what to do: "
        "implement at least one hook (roost_task_types on the SDK side, roost_task_handlers on the engine "
        "side) in the module its entry point names, and mark it with @hookimpl",
        "roost: needs attention: lonely: only its SDK side is installed: no engine handler runs its task types "
        'lonely-job; what to do: install its engine side where the engine runs (a "roost.engine" entry point '
        "named lonely)",
        "roost: needs attention: solo: only its engine side is installed: `roost run` and workflows written "
        'with roost cannot use its task types; what to do: install its SDK side beside roost (a "roost.sdk" '
        "entry point named solo)",
    ]
    # the plugins that load serve their task types
    handlers = plugins.handlers(EngineConfig(default_for_task_types={"twin": "twin-b"}))
    chosen = {choice.task_type: choice.chosen for choice in handlers.choices()}
    assert chosen["solo-job"] == "solo" and chosen["twin"] == "twin-b"
    assert isinstance(handlers.for_task_type("solo-job"), EchoHandler)
    # an engine per local run: each problem is logged once per process
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        again = report_attention(EnginePlugins(), sdk_sides)
    assert len(again) == 5 and logged(caplog) == []


@pytest.mark.usefixtures("troubled")
def test_a_task_type_the_configuration_chose_a_handler_for_needs_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    found = report_attention(EnginePlugins(), sdk_sides, {"twin": "twin-a"})
    assert [item.plugin for item in found if item.plugin in PLUGINS] == ["broken", "idle", "lonely", "solo"]
    assert not any("twin" in item.plugin for item in found)


@pytest.mark.usefixtures("troubled")
def test_without_the_sdk_an_engine_reports_what_it_can_tell() -> None:
    found = report_attention(EnginePlugins())
    # idle's SDK side and lonely's task types are unknown to an engine alone: not reported
    assert [item.plugin for item in found if item.plugin in PLUGINS or " and " in item.plugin] == [
        "broken",
        "twin_a and twin_b",
        "solo",
    ]


@pytest.mark.usefixtures("troubled")
def test_a_check_that_fails_is_logged_and_never_stops_the_engine(caplog: pytest.LogCaptureFixture) -> None:
    def failing() -> SdkSides:
        raise RuntimeError("the SDK's plugins could not be listed")

    plugins = EnginePlugins()
    with caplog.at_level(logging.WARNING):
        assert report_attention(plugins, failing) == []
    assert (
        "roost: the installed plugins could not be checked: RuntimeError: the SDK's plugins could not be listed"
        in caplog.messages
    )
    assert isinstance(plugins.handlers().for_task_type("solo-job"), EchoHandler)
