"""The SDK plugin manager: what plugins register, and what it leaves out (reported, naming the plugin) when a
plugin's hook raises or its registration clashes with an earlier one."""

from __future__ import annotations

from typing import Any

import pytest

from roost.extend import ContextAttribute, FunctionTask, hookimpl
from roost.plugins.manager import SdkPlugins
from roost.types import TypeEngine
from roost.types.dataframes import PandasParquetEncoder


class Config:
    """A task config."""


class ConfigTask(FunctionTask):
    """Its task class."""


class Good:
    @hookimpl
    def roost_task_types(self, register: Any) -> None:
        register(Config, ConfigTask)

    @hookimpl
    def roost_context_attributes(self, register: Any) -> None:
        register(ContextAttribute("session", object, doc="a session"))


class Clashing:
    @hookimpl
    def roost_task_types(self, register: Any) -> None:
        register(Config, ConfigTask)
        register(int, dict)

    @hookimpl
    def roost_context_attributes(self, register: Any) -> None:
        register(ContextAttribute("session", str))
        register("not an attribute")

    @hookimpl
    def roost_structured_dataset_handlers(self, register: Any) -> None:
        register(PandasParquetEncoder())  # the built-in one is registered already


class Raising:
    @hookimpl
    def roost_type_transformers(self, register: Any) -> None:
        raise RuntimeError("the plugin's bug")


def problems(plugins: SdkPlugins) -> list[str]:
    return [problem.message() for problem in plugins.problems]


def test_what_clashes_or_raises_is_reported_and_left_out():
    plugins = SdkPlugins((Good(), Clashing(), Raising()), entry_points=False)
    good, clashing, raising = (plugins.pluggy_manager.get_name(p) for p in plugins._extra)
    assert plugins.task_types()[Config] is ConfigTask
    assert plugins.context_attributes()["session"].plugin == good
    engine = TypeEngine.from_plugins(plugins)
    assert engine.get_transformer(int).name == "int"  # built-ins registered despite the raising plugin
    assert problems(plugins) == [
        f"plugin {clashing!r} (roost.sdk, registered directly) registered task_config Config, which {good!r} registered "
        "already; left out",
        f"plugin {clashing!r} (roost.sdk, registered directly) registered task_config {int!r} with {dict!r}, which is not a "
        "Task subclass; left out",
        f"plugin {clashing!r} (roost.sdk, registered directly) registered the context attribute 'session', which {good!r} "
        "registered already; left out",
        f"plugin {clashing!r} (roost.sdk, registered directly) registered ('not an attribute',) as a context attribute, which "
        "is not a ContextAttribute; left out",
        f"plugin {raising!r} (roost.sdk, registered directly) raised in roost_type_transformers and its registrations are left "
        "out: RuntimeError: the plugin's bug",
        f"plugin {clashing!r} (roost.sdk, registered directly) made a registration the type engine refuses "
        "(roost_structured_dataset_handlers): cannot register <PandasParquetEncoder: writes pandas.DataFrame to any "
        "blob store as 'parquet'>: <PandasParquetEncoder: writes pandas.DataFrame to any blob store as 'parquet'> is "
        "registered for the same type, protocol and format",
    ]
    TypeEngine.from_plugins(plugins)
    assert len(problems(plugins)) == 6, "each problem is reported once"


def test_provides_lists_every_registration_by_plugin():
    plugins = SdkPlugins((Good(),), entry_points=False)
    name = plugins.pluggy_manager.get_name(plugins._extra[0])
    provided = plugins.provides()
    assert provided[name] == [
        "task_config Config → python-task",
        "current_context().session: builtins.object",
    ]
    assert "writes pandas.DataFrame to any blob store as 'parquet'" in provided["roost.types.builtin"]
    assert provided["roost.builtin"] == ["image builder dockerfile"]


def test_a_task_config_no_plugin_handles_names_the_known_ones():
    from roost.errors import WorkflowDefinitionError

    with pytest.raises(
        WorkflowDefinitionError,
        match=r"^task 'f': no installed plugin handles task_config of type float; installed task configs: Config$",
    ):
        SdkPlugins((Good(),), entry_points=False).task_class_for(1.5, task="f")
