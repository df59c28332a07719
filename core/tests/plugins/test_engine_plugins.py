"""The engine plugin manager: lazy discovery, loud failures, and handler selection."""

from __future__ import annotations

import sys
import textwrap

import pluggy
import pytest

from roost_core import hookimpl
from roost_core.errors import ConfigurationError, UnknownTaskTypeError
from roost_core.handler import TaskContext, TaskHandler, Transition
from roost_core.plugins import EnginePlugins


class Named(TaskHandler):
    def __init__(self, name: str) -> None:
        self.name = name

    def handle(self, ctx: TaskContext) -> Transition:
        return Transition.success()


class TwoEchoes:
    @hookimpl
    def roost_task_handlers(self, register):
        register(Named("fast-echo"), task_types=["echo", "fast"])


@pytest.fixture
def installed_plugin(tmp_path, monkeypatch):
    """A distribution on sys.path whose ``roost.engine`` entry point records when it is imported."""
    package = tmp_path / "roost_sample_plugin"
    package.mkdir()
    (package / "__init__.py").write_text(
        textwrap.dedent("""
        from roost_core import hookimpl
        from roost_core.handler import TaskHandler, Transition

        IMPORTED = True

        class Sample(TaskHandler):
            name = "sample"

            def handle(self, ctx):
                return Transition.success()

        @hookimpl
        def roost_task_handlers(register):
            register(Sample(), task_types=["sample-type"])
    """)
    )
    dist = tmp_path / "roost_sample_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: roost-sample-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[roost.engine]\nsample = roost_sample_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "roost_sample_plugin"
    sys.modules.pop("roost_sample_plugin", None)


def test_entry_point_plugins_are_imported_only_when_a_hook_is_asked_for(installed_plugin):
    plugins = EnginePlugins()
    assert installed_plugin not in sys.modules
    selector = plugins.handlers()
    assert installed_plugin in sys.modules
    assert selector.for_task_type("sample-type").name == "sample"
    assert plugins.distribution_of("sample") == "roost-sample-plugin 1.0"
    assert "sample" in plugins.plugin_names()


def test_builtins_register_through_the_same_hooks():
    plugins = EnginePlugins(entry_points=False)
    assert plugins.plugin_names() == ["roost_core.builtin"]
    assert set(plugins.sink_factories()) == {"memory", "jsonl"}
    assert set(plugins.store_factories()) == {"mem", "file", "s3"}
    assert plugins.handlers().for_task_type("python-task").name == "local-process"


def test_a_misspelled_hook_fails_loading_with_its_name():
    class Typo:
        @hookimpl
        def roost_task_handler(self, register):
            """Missing its final s."""

    with pytest.raises(pluggy.PluginValidationError, match="roost_task_handler"):
        EnginePlugins([Typo()], entry_points=False).handlers()


def test_an_unknown_task_type_lists_every_installed_handler():
    selector = EnginePlugins(entry_points=False).handlers()
    with pytest.raises(UnknownTaskTypeError) as raised:
        selector.for_task_type("spark")
    assert str(raised.value) == (
        "no handler for task type 'spark'; installed handlers: echo (echo), sleep (sleep), "
        "local-process (container, python-task, raw-container)"
    )


def test_two_handlers_for_one_type_need_configuration():
    plugins = EnginePlugins([TwoEchoes()], entry_points=False)
    with pytest.raises(ConfigurationError) as raised:
        plugins.handlers().for_task_type("echo")
    assert str(raised.value) == (
        "task type 'echo' is served by several handlers (echo, fast-echo); choose one with "
        "default_for_task_types"
    )
    assert plugins.handlers({"echo": "fast-echo"}).for_task_type("echo").name == "fast-echo"
    assert plugins.handlers().for_task_type("fast").name == "fast-echo"


def test_configuring_a_handler_that_is_not_installed_is_an_error():
    with pytest.raises(ConfigurationError) as raised:
        EnginePlugins(entry_points=False).handlers({"python-task": "k8s-pod"})
    assert str(raised.value) == (
        "default_for_task_types maps 'python-task' to handler 'k8s-pod', which is not installed; "
        "installed handlers: echo, local-process, sleep"
    )


def test_a_sink_registered_twice_is_refused_with_both_plugins_named():
    class Clash:
        @hookimpl
        def roost_event_sinks(self, register):
            register("memory", lambda config: None)

    with pytest.raises(ConfigurationError, match="event sink 'memory' is registered twice: by "):
        EnginePlugins([Clash()], entry_points=False).sink_factories()


def test_registering_something_that_is_not_a_handler_is_refused():
    class Wrong:
        @hookimpl
        def roost_task_handlers(self, register):
            register(object(), task_types=["x"])

    with pytest.raises(ConfigurationError, match="which is not a TaskHandler"):
        EnginePlugins([Wrong()], entry_points=False).handler_registrations()


def test_importing_roost_core_imports_nothing_heavy():
    import subprocess

    code = "import sys, roost_core; print(sorted(m for m in sys.modules if m.startswith(('flyteidl', 'boto3', 'pluggy', 'roost_core.'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
