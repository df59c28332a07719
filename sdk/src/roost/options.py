"""Task options users pass to ``@task`` and ``with_overrides``: resources, secrets and caching."""

from __future__ import annotations

import datetime
import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flyteidl.core import security_pb2, tasks_pb2

_RESOURCE_NAMES = {
    "cpu": tasks_pb2.Resources.CPU,
    "mem": tasks_pb2.Resources.MEMORY,
    "gpu": tasks_pb2.Resources.GPU,
    "ephemeral_storage": tasks_pb2.Resources.EPHEMERAL_STORAGE,
}


@dataclass(frozen=True)
class Resources:
    """Compute resources: ``Resources(cpu="2", mem="4Gi", gpu=1, ephemeral_storage="10Gi")``.

    Values use Kubernetes quantities; numbers are accepted. Pass ``requests=`` and ``limits=`` to ``@task``,
    or ``resources=`` for both at once.
    """

    cpu: str | int | float | None = None
    mem: str | None = None
    gpu: str | int | None = None
    ephemeral_storage: str | None = None

    def __post_init__(self) -> None:
        for name in ("cpu", "mem", "gpu", "ephemeral_storage"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (str, int, float))):
                raise TypeError(f"Resources({name}=...) must be a string or a number, not {value!r}")

    def entries(self) -> list[tasks_pb2.Resources.ResourceEntry]:
        """The flyteidl resource entries of the values that are set."""
        return [
            tasks_pb2.Resources.ResourceEntry(name=kind, value=str(getattr(self, name)))
            for name, kind in _RESOURCE_NAMES.items()
            if getattr(self, name) is not None
        ]


def resources_proto(requests: Resources | None, limits: Resources | None) -> tasks_pb2.Resources | None:
    """``tasks_pb2.Resources`` from requests and limits, or None when neither is given."""
    if requests is None and limits is None:
        return None
    return tasks_pb2.Resources(
        requests=requests.entries() if requests else [], limits=limits.entries() if limits else []
    )


class SecretMount(enum.Enum):
    """How a secret reaches the task: as an environment variable or as a file."""

    ANY = security_pb2.Secret.ANY
    ENV_VAR = security_pb2.Secret.ENV_VAR
    FILE = security_pb2.Secret.FILE


@dataclass(frozen=True)
class Secret:
    """A secret the task needs: ``Secret(group="aws", key="token")``."""

    group: str
    key: str = ""
    group_version: str = ""
    mount_requirement: SecretMount = SecretMount.ANY
    env_var: str = ""

    def to_proto(self) -> security_pb2.Secret:
        """The flyteidl secret request."""
        return security_pb2.Secret(
            group=self.group,
            key=self.key,
            group_version=self.group_version,
            mount_requirement=self.mount_requirement.value,
            env_var=self.env_var,
        )


@dataclass(frozen=True)
class Cache:
    """Caching of a task's outputs by its inputs: ``Cache(version="1", serialize=True, ignored_inputs=("seed",))``.

    A new ``version`` invalidates old entries; the task's own version does not. ``serialize`` lets only one
    execution compute a given key at a time while the others wait for its result.
    """

    version: str = ""
    serialize: bool = False
    ignored_inputs: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ignored_inputs", tuple(self.ignored_inputs))


def as_cache(value: bool | Cache | None, version: str | None, *, task: str) -> Cache | None:
    """Normalize ``@task(cache=...)``: ``True`` needs a version (``cache_version=`` or ``Cache(version=)``)."""
    if value is None or value is False:
        return None
    if value is True:
        value = Cache()
    if not isinstance(value, Cache):
        raise TypeError(f"task {task!r}: cache must be True, False or a Cache(...), not {value!r}")
    if version:
        value = Cache(version, value.serialize, value.ignored_inputs)
    if not value.version:
        raise ValueError(f"task {task!r}: a cached task needs a version: cache=Cache(version='1')")
    return value


def as_timeout(value: datetime.timedelta | int | float | None, *, task: str) -> datetime.timedelta | None:
    """Normalize a timeout given as a timedelta or a number of seconds."""
    if value is None:
        return None
    if isinstance(value, datetime.timedelta):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return datetime.timedelta(seconds=value)
    raise ValueError(
        f"task {task!r}: timeout must be a positive number of seconds or a timedelta, not {value!r}"
    )


def secret_list(secrets: Iterable[Secret | Any] | None, *, task: str) -> tuple[Secret, ...]:
    """Check ``secret_requests=`` and return them as a tuple."""
    found = tuple(secrets or ())
    for secret in found:
        if not isinstance(secret, Secret):
            raise TypeError(f"task {task!r}: secret_requests holds {secret!r}, which is not a roost.Secret")
    return found
