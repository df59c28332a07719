"""Builds the :class:`Storage` an engine or server uses, from the installed stores and config."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from roost_core.errors import ConfigurationError
from roost_core.storage.base import Storage

if TYPE_CHECKING:
    from roost_core.plugins.manager import EnginePlugins


def build_storage(plugins: EnginePlugins, config: Mapping[str, Mapping[str, Any]] | None = None) -> Storage:
    """A :class:`Storage` serving every registered scheme, each store built from ``config[scheme]``.

    A configuration section for a scheme no installed store serves is an error (usually a typo), so
    settings are never silently ignored.
    """
    sections = dict(config or {})
    factories = plugins.store_factories()
    unknown = sorted(set(sections) - set(factories))
    if unknown:
        raise ConfigurationError(
            f"storage configuration has section(s) {', '.join(unknown)} but no installed blob "
            f"store serves them; installed: {', '.join(sorted(factories)) or 'none'}"
        )
    return Storage({scheme: factory(sections.get(scheme, {})) for scheme, factory in factories.items()})
