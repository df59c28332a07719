"""What the storage tests share: a storage under test with a prefix of its own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from roost_core.plugins import EnginePlugins
from roost_core.storage import Storage, build_storage


@dataclass
class Backend:
    """A storage and a prefix no other test uses."""

    storage: Storage
    base: str

    def uri(self, *parts: str) -> str:
        """A URI under this test's prefix."""
        return Storage.join(self.base, *parts)


def make_storage(config: dict[str, Any]) -> Storage:
    """A Storage of the built-in stores, configured as given."""
    return build_storage(EnginePlugins(entry_points=False), config)
