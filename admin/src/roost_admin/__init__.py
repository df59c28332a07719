"""roost-admin: Flyte's control plane API over gRPC, SQL storage, engine workers, and ``roost start``.

Names are imported on first use, so adding the admin's commands to ``roost`` costs nothing until they run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from roost_core.lazy import lazy_exports

if TYPE_CHECKING:
    from roost_admin.app import AdminApp
    from roost_admin.config import Settings, load_settings

_EXPORTS = {
    "AdminApp": "roost_admin.app",
    "Settings": "roost_admin.config",
    "load_settings": "roost_admin.config",
}

__all__ = ["AdminApp", "Settings", "load_settings"]


__getattr__ = lazy_exports(__name__, _EXPORTS)
