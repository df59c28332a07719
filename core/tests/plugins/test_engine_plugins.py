"""The engine plugin manager: lazy discovery, broken plugins left out, handler choice and typed settings."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pluggy
import pytest

from roost_core import hookimpl
from roost_core.engine import Engine, EngineConfig
from roost_core.errors import ConfigurationError, SettingsError, UnknownTaskTypeError
from roost_core.handler import TaskContext, TaskHandler, Transition
from roost_core.plugins import EnginePlugins
from roost_core.settings import HandlerSettings, Seconds, SharedSettings, TaskEnvironment
from roost_core.storage import Storage
from roost_core.storage.memory import MemoryStore


class Quick(TaskHandler):
    def __init__(self, settings: QuickSettings | None = None) -> None:
        self.settings = settings

    def handle(self, ctx: TaskContext) -> Transition:
        return Transition.success()


class Cluster(SharedSettings):
    section = "cluster"
    host: str = "localhost"
    port: int = 80


class QuickSettings(HandlerSettings):
    task_environment: TaskEnvironment = TaskEnvironment()
    cluster: Cluster = Cluster()
    pause: Seconds = 1.0
    label: str = ""


class QuickPlugin:
    """``quick`` for python-task (a mere candidate) and ``quick-type`` (its default), with settings."""

    @hookimpl
    def roost_task_handlers(self, register):
        register(
            "quick",
            Quick,
            task_types=["python-task", "quick-type"],
            default=["quick-type"],
            settings=QuickSettings,
        )


class ClaimsPythonTasks:
    @hookimpl
    def roost_task_handlers(self, register):
        register("greedy", Quick, task_types=["python-task"], default=True)


def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, source: str) -> str:
    """A distribution ``roost-<name> 1.0`` on sys.path whose ``roost.engine`` entry point is ``source``."""
    module = f"roost_{name.replace('-', '_')}"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
    dist = tmp_path / f"{module}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: roost-{name}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[roost.engine]\n{name} = {module}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, module, raising=False)
    return module


SAMPLE = """
    from roost_core import hookimpl
    from roost_core.handler import TaskHandler, Transition

    class Sample(TaskHandler):
        def handle(self, ctx):
            return Transition.success()

    @hookimpl
    def roost_task_handlers(register):
        register("sample", Sample, task_types=["sample-type"], default=True)
"""


def test_entry_point_plugins_are_imported_only_when_a_hook_is_asked_for(tmp_path, monkeypatch):
    module = installed(tmp_path, monkeypatch, "sample", SAMPLE)
    plugins = EnginePlugins()
    assert module not in sys.modules
    handlers = plugins.handlers()
    assert module in sys.modules
    assert handlers.for_task_type("sample-type").name == "sample"
    assert plugins.distribution_of("sample") == "roost-sample 1.0"
    assert "sample" in plugins.plugin_names()


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("import roost_no_such_module\n", "ModuleNotFoundError: No module named 'roost_no_such_module'"),
        (
            "from roost_core import hookimpl\n\n@hookimpl\ndef roost_task_handler(register):\n    pass\n",
            "PluginValidationError: unknown hook 'roost_task_handler' in plugin",
        ),
        (
            "from roost_core import hookimpl\n\n@hookimpl\ndef roost_task_handlers(register):\n"
            "    register('x', object, task_types='abc')\n",
            "ConfigurationError: plugin 'broken' registered handler 'x' with task_types 'abc'",
        ),
    ],
)
def test_a_broken_plugin_is_reported_with_its_distribution_and_left_out(tmp_path, monkeypatch, source, error):
    (tmp_path / "ok").mkdir()
    installed(tmp_path / "ok", monkeypatch, "sample", SAMPLE)
    installed(tmp_path, monkeypatch, "broken", source)
    plugins = EnginePlugins()
    handlers = plugins.handlers()
    assert handlers.for_task_type("sample-type").name == "sample"  # the rest keeps working
    assert handlers.for_task_type("python-task").name == "local-process"
    [failure] = plugins.failures
    assert (failure.name, failure.distribution) == ("broken", "roost-broken 1.0")
    assert error in failure.problem
    assert failure.message().startswith("plugin 'broken' (roost.engine, roost-broken 1.0) ")


def test_builtins_register_through_the_same_hooks_and_import_nothing_until_built():
    code = textwrap.dedent(
        """
        import sys
        from roost_core.plugins import EnginePlugins
        plugins = EnginePlugins(entry_points=False)
        handlers = plugins.handlers()
        print(sorted(m for m in sys.modules if m.startswith(("pydantic", "roost_core.handlers"))))
        handlers.for_task_type("python-task")
        print("pydantic" in sys.modules, "roost_core.handlers.local_process" in sys.modules)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["[]", "True True"]
    plugins = EnginePlugins(entry_points=False)
    assert plugins.plugin_names() == ["roost_core.builtin"]
    assert set(plugins.sink_factories()) == {"memory", "jsonl"}
    assert set(plugins.store_factories()) == {"mem", "file", "s3"}


def test_a_misspelled_hook_of_a_plugin_passed_in_fails_loading_with_its_name():
    class Typo:
        @hookimpl
        def roost_task_handler(self, register):
            """Missing its final s."""

    with pytest.raises(pluggy.PluginValidationError, match="roost_task_handler"):
        EnginePlugins([Typo()], entry_points=False).handlers()


def test_an_unknown_task_type_lists_every_installed_handler():
    handlers = EnginePlugins(entry_points=False).handlers()
    with pytest.raises(UnknownTaskTypeError) as raised:
        handlers.for_task_type("spark")
    assert str(raised.value) == (
        "no handler for task type 'spark'; installed handlers: echo (echo), sleep (sleep), "
        "local-process (container, python-task, raw-container)"
    )


def test_installing_a_candidate_never_changes_the_default():
    handlers = EnginePlugins([QuickPlugin()], entry_points=False).handlers()
    assert handlers.for_task_type("python-task").name == "local-process"
    assert handlers.for_task_type("quick-type").name == "quick"
    choice = {c.task_type: c for c in handlers.choices()}["python-task"]
    assert [(c.name, c.plugin, c.offers_default) for c in choice.candidates] == [
        ("local-process", "roost_core.builtin", True),
        ("quick", choice.candidates[1].plugin, False),
    ]
    assert (choice.chosen, choice.reason) == (
        "local-process",
        "the default offered by plugin 'roost_core.builtin'",
    )


def test_configuration_chooses_a_candidate():
    plugins = EnginePlugins([QuickPlugin()], entry_points=False)
    handlers = plugins.handlers(EngineConfig(default_for_task_types={"python-task": "quick"}))
    assert handlers.for_task_type("python-task").name == "quick"
    choice = {c.task_type: c for c in handlers.choices()}["python-task"]
    assert choice.reason == "configured in engine.default_for_task_types"


def test_an_executions_override_picks_the_first_installed_handler_that_takes_the_type():
    handlers = EnginePlugins([QuickPlugin()], entry_points=False).handlers()
    # "echo" is installed but does not take python-task; "gpu-farm" is not installed.
    assert handlers.for_task("python-task", ["gpu-farm", "echo", "quick"], fallback=False).name == "quick"
    assert handlers.for_task("python-task", ["gpu-farm"], fallback=True).name == "local-process"
    with pytest.raises(UnknownTaskTypeError) as raised:
        handlers.for_task("python-task", ["gpu-farm", "echo"], fallback=False)
    assert str(raised.value).startswith(
        "none of the handlers gpu-farm, echo that the execution's plugin override names for task type "
        "'python-task' is installed and takes that type; installed handlers: echo (echo), "
    )


def test_a_candidate_nobody_chose_names_the_setting():
    class OnlyCandidate:
        @hookimpl
        def roost_task_handlers(self, register):
            register("shy", Quick, task_types=["shy-type"])

    handlers = EnginePlugins([OnlyCandidate()], entry_points=False).handlers()
    with pytest.raises(ConfigurationError) as raised:
        handlers.for_task_type("shy-type")
    assert str(raised.value) == (
        "task type 'shy-type' has no default handler among its candidates (shy); choose one in "
        "engine.default_for_task_types"
    )


def test_two_default_offers_for_one_task_type_are_a_start_up_error_naming_both():
    plugins = EnginePlugins([ClaimsPythonTasks()], entry_points=False)
    with pytest.raises(ConfigurationError) as raised:
        Engine(Storage({"mem": MemoryStore()}), plugins=plugins)
    plugin = plugins.handler_registrations()[-1].plugin
    assert str(raised.value) == (
        "task type 'python-task': handlers 'local-process' (plugin 'roost_core.builtin') and 'greedy' "
        f"(plugin {plugin!r}) both offer themselves as its default; choose one in engine.default_for_task_types"
    )
    settled = plugins.handlers(EngineConfig(default_for_task_types={"python-task": "greedy"}))
    assert settled.for_task_type("python-task").name == "greedy"


def test_choosing_a_handler_that_is_not_installed_is_an_error():
    with pytest.raises(ConfigurationError) as raised:
        EnginePlugins(entry_points=False).handlers(
            EngineConfig(default_for_task_types={"python-task": "k8s-pod"})
        )
    assert str(raised.value) == (
        "engine.default_for_task_types.python-task: handler 'k8s-pod' is not installed; installed handlers: "
        "echo, local-process, sleep"
    )


def test_an_unknown_handler_name_under_handlers_is_an_error():
    with pytest.raises(SettingsError) as raised:
        Engine(Storage({"mem": MemoryStore()}), config=EngineConfig(handlers={"local-proces": {}}))
    assert str(raised.value) == (
        "engine.handlers.local-proces: unknown handler; installed handlers: echo, local-process, sleep"
    )


def test_every_settings_problem_is_named_at_start_with_its_key_and_expected_type():
    config = EngineConfig.from_mapping(
        {
            "handlers": {"quick": {"pause": "a while", "lable": "x", "cluster": {"port": "eighty"}}},
            "cluster": {"host": 7},
            "task_enviroment": {},
        }
    )
    plugins = EnginePlugins([QuickPlugin()], entry_points=False)
    with pytest.raises(SettingsError) as raised:
        plugins.handlers(config)
    assert raised.value.problems == (
        "engine.task_enviroment: unknown key; known: default_active_deadline, default_execution_deadline, "
        "default_for_task_types, default_max_parallelism, event_backoff, event_retries, handlers, "
        "interruptible_failure_threshold, max_system_retries, poll_interval, producer_id; shared sections of "
        "the installed handlers: cluster, task_environment",
    )
    del config.shared["task_enviroment"]
    with pytest.raises(SettingsError) as raised:
        plugins.handlers(config)
    assert raised.value.problems == (
        "engine.cluster.host: input should be a valid string, got 7",
        "engine.handlers.quick.cluster.port: input should be a valid integer, unable to parse string as an "
        "integer, got 'eighty'",
        "engine.handlers.quick.pause: expected a duration (seconds, or a string such as '90s' or '3m'), "
        "got 'a while'",
        "engine.handlers.quick.lable: unknown key; known: cluster, label, pause, task_environment",
    )
    assert str(raised.value).startswith("4 configuration errors:\n  engine.cluster.host: ")


def test_a_handler_gets_its_settings_with_the_shared_sections_merged_under_its_overrides():
    config = EngineConfig.from_mapping(
        {
            "task_environment": {"env": {"A": "shared", "B": "shared"}, "drop_env": ["ROOST_*"]},
            "cluster": {"host": "k8s.example"},
            "handlers": {"quick": {"task_environment": {"env": {"B": "mine"}}, "pause": "2m"}},
        }
    )
    handler = EnginePlugins([QuickPlugin()], entry_points=False).handlers(config).by_name("quick")
    assert isinstance(handler, Quick) and handler.settings is not None
    assert handler.settings.task_environment.env == {"A": "shared", "B": "mine"}
    assert handler.settings.task_environment.drop_env == ("ROOST_*",)
    assert handler.settings.cluster == Cluster(host="k8s.example", port=80)
    assert handler.settings.pause == 120.0
    assert handler.name == "quick"


def test_engine_options_of_the_wrong_type_are_named():
    with pytest.raises(SettingsError) as raised:
        EngineConfig.from_mapping({"poll_interval": "often", "handlers": ["local-process"]})
    assert raised.value.problems == (
        "engine.poll_interval: expected a number, got 'often'",
        "engine.handlers: expected a mapping of names to settings, got ['local-process']",
    )


def test_a_handler_without_settings_refuses_a_section():
    with pytest.raises(SettingsError, match=r"^engine.handlers.echo: handler 'echo' takes no settings$"):
        EnginePlugins(entry_points=False).handlers(EngineConfig(handlers={"echo": {"speed": 1}}))


def test_a_factory_that_fails_is_reported_with_its_handler_and_plugin():
    class Fails:
        @hookimpl
        def roost_task_handlers(self, register):
            def factory():
                raise RuntimeError("no cluster")

            register("fails", factory, task_types=["f"], default=True)

    handlers = EnginePlugins([Fails()], entry_points=False).handlers()
    with pytest.raises(
        ConfigurationError,
        match=r"^handler 'fails' \(plugin '.*'\) could not be built: RuntimeError: no cluster$",
    ):
        handlers.build_all()


def test_registering_a_built_handler_instead_of_a_factory_is_refused():
    class Wrong:
        @hookimpl
        def roost_task_handlers(self, register):
            register("x", Quick(), task_types=["x"])

    with pytest.raises(ConfigurationError, match="which is not a factory"):
        EnginePlugins([Wrong()], entry_points=False).handler_registrations()


def test_a_sink_registered_twice_is_refused_with_both_plugins_named():
    class Clash:
        @hookimpl
        def roost_event_sinks(self, register):
            register("memory", lambda config: None)

    with pytest.raises(ConfigurationError, match="event sink 'memory' is registered twice: by "):
        EnginePlugins([Clash()], entry_points=False).sink_factories()


def test_importing_roost_core_imports_nothing_heavy():
    code = (
        "import sys, roost_core; print(sorted(m for m in sys.modules "
        "if m.startswith(('flyteidl', 'boto3', 'pluggy', 'pydantic', 'roost_core.'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['roost_core.lazy']"


def test_the_plugin_surface_exports_what_it_documents_lazily():
    import roost_core.extend

    for name in roost_core.extend.__all__:
        assert getattr(roost_core.extend, name) is not None, name
    code = "import sys, roost_core.extend; print(sorted(m for m in sys.modules if m.startswith(('pydantic', 'flyteidl'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        roost_core.extend.Nope  # noqa: B018


@pytest.mark.parametrize(
    ("source", "error"),
    [
        (
            "from roost_core import hookimpl\n\n@hookimpl\ndef roost_task_handlers(register, extra):\n    pass\n",
            "'extra'",
        ),
        (
            "from roost_core import hookimpl\n\n@hookimpl\ndef roost_task_handlers(register: int) -> None:\n"
            "    pass\n",
            "plugin 'broken': hook implementation does not match its specification: hook 'roost_task_handlers': "
            "parameter 'register' is annotated int, the specification says RegisterHandler",
        ),
        (
            "from roost_core import hookimpl\n\n@hookimpl\ndef roost_task_handlers(register) -> str:\n"
            "    return ''\n",
            "hook 'roost_task_handlers': the return is annotated str, the specification says None",
        ),
        (
            "from __future__ import annotations\nfrom typing import TYPE_CHECKING\nfrom roost_core import hookimpl\n"
            "if TYPE_CHECKING:\n    from roost_core.plugins.hookspecs import RegisterSink\n\n"
            "@hookimpl\ndef roost_task_handlers(register: RegisterSink) -> None:\n    pass\n",
            "parameter 'register' is annotated RegisterSink, the specification says RegisterHandler",
        ),
    ],
)
def test_a_hook_implementation_that_differs_from_its_specification_is_named_and_left_out(
    tmp_path, monkeypatch, source, error
):
    installed(tmp_path, monkeypatch, "broken", source)
    plugins = EnginePlugins()
    assert plugins.handlers().for_task_type("python-task").name == "local-process"
    [failure] = plugins.failures
    assert failure.name == "broken"
    assert "roost_task_handlers" in failure.problem
    assert error in failure.problem


@pytest.mark.parametrize(
    "annotations",
    [
        "register: RegisterHandler) -> None",
        "register: 'hookspecs.RegisterHandler') -> None",
        "register)",
        "register: Any) -> Any",
    ],
)
def test_a_hook_implementation_annotated_like_its_specification_or_not_at_all_loads(
    tmp_path, monkeypatch, annotations
):
    source = (
        "from __future__ import annotations\nfrom typing import TYPE_CHECKING, Any\nfrom roost_core import hookimpl\n"
        "if TYPE_CHECKING:\n    from roost_core.plugins import hookspecs\n"
        "    from roost_core.plugins.hookspecs import RegisterHandler\n\n"
        f"@hookimpl\ndef roost_task_handlers({annotations}:\n"
        "    register('x', object, task_types=['x-type'], default=True)\n"
    )
    installed(tmp_path, monkeypatch, "fine", source)
    plugins = EnginePlugins()
    assert plugins.failures == []
    assert [r.name for r in plugins.handler_registrations() if r.plugin == "fine"] == ["x"]
