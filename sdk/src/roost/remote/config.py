"""Where the admin is: ``roost config init`` writes it; ``$ROOST_ENDPOINT`` and friends override it (the admin
sets ``ROOST_ENDPOINT`` and ``ROOST_INSECURE`` for the task processes it starts)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from roost.errors import RemoteError

DEFAULT_ENDPOINT = "localhost:8089"
_FLAGS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def config_path() -> Path:
    """``$ROOST_CLIENT_CONFIG``, else ``$XDG_CONFIG_HOME/roost/config.yaml`` (``~/.config/roost/config.yaml``)."""
    explicit = os.environ.get("ROOST_CLIENT_CONFIG")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "roost" / "config.yaml"


@dataclass(frozen=True)
class ClientConfig:
    """How the CLI and the remote client reach an admin, and the project and domain they default to."""

    endpoint: str = DEFAULT_ENDPOINT
    insecure: bool = True
    project: str = "flytesnacks"
    domain: str = "development"
    ca_cert_file: str = ""
    """A CA bundle to trust for the admin's TLS (empty: the system's), as flytekit's ``caCertFilePath``."""

    @classmethod
    def load(cls) -> ClientConfig:
        """The saved config (if any), then ``ROOST_ENDPOINT``, ``ROOST_INSECURE``, ``ROOST_PROJECT``,
        ``ROOST_DOMAIN``."""
        values: dict[str, Any] = {}
        path = config_path()
        if path.exists():
            import yaml

            data = yaml.safe_load(path.read_text()) or {}
            if not isinstance(data, dict):
                raise RemoteError(f"{path} must hold a mapping (endpoint, insecure, project, domain)")
            unknown = sorted(set(data) - set(cls.__dataclass_fields__))
            if unknown:
                raise RemoteError(f"{path}: unknown setting(s) {', '.join(unknown)}")
            values.update(data)
        for key in ("endpoint", "project", "domain"):
            env = os.environ.get(f"ROOST_{key.upper()}")
            if env:
                values[key] = env
        insecure = os.environ.get("ROOST_INSECURE", "").strip().lower()
        if insecure:
            if insecure not in _FLAGS:
                raise RemoteError(
                    f"ROOST_INSECURE must be true or false, not {os.environ['ROOST_INSECURE']!r}"
                )
            values["insecure"] = _FLAGS[insecure]
        return cls(**values)

    def save(self) -> Path:
        """Write this config where :meth:`load` reads it."""
        import yaml

        path = config_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(asdict(self), sort_keys=False))
        return path

    @property
    def target(self) -> str:
        """The gRPC target (``dns:///`` and such prefixes removed)."""
        return self.endpoint.removeprefix("dns:///")
