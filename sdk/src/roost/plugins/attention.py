"""The SDK's part of what needs attention about the installed plugins (``roost_core.plugins.attention``):
which SDK sides loaded, what they registered, and the task types their task classes write."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from roost_core.plugins.attention import Attention, SdkSides
    from roost_core.plugins.manager import EnginePlugins


def sdk_sides() -> SdkSides:
    """The SDK's plugins as this process loaded them (``roost.sdk``, and ``roost.storage`` for failures)."""
    from roost.plugins.manager import sdk_plugins
    from roost.plugins.storage import storage_problems
    from roost_core.plugins.attention import SdkSides

    sdk = sdk_plugins()
    written: dict[str, list[str]] = {}
    for call in sdk.calls("roost_task_types"):
        task_class = (*call.args, None, None)[1]
        written.setdefault(call.plugin, []).append(str(getattr(task_class, "task_type", "?")))
    return SdkSides(problems=[*sdk.problems, *storage_problems()], provides=sdk.provides(), written=written)


def installed_attention(engine: EnginePlugins | None = None) -> list[Attention]:
    """What needs attention about the plugins installed here: the engine side as ``engine`` loaded them (by
    default, as an engine with every installed plugin would), the SDK side as this process did."""
    from roost_core.plugins import EnginePlugins
    from roost_core.plugins.attention import plugin_attention

    return plugin_attention(engine if engine is not None else EnginePlugins(), sdk_sides())
