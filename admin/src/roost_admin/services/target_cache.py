"""What the admin made of registered versions (a launch plan with its workflow's compiled closure, a task
wrapped in its one-node workflow), kept by identifier up to a byte budget, so launching the same version again
reads no row and parses no blob.

A registered version never changes and is never deleted once its row is committed, so an entry is never
stale: it is keyed by the version's full identifier (resource type, project, domain, name, version) and holds
only what that version fixes, never what can change (a launch plan's ACTIVE state, a project's state, the
matchable attributes). Only versions read from committed rows are kept; a version not registered is looked up
again every time, so it is found as soon as it is registered.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from cachetools import LRUCache
from flyteidl.admin import launch_plan_pb2
from flyteidl.core import compiler_pb2, identifier_pb2, interface_pb2, literals_pb2

CACHE_BYTES = 64 * 1024 * 1024
"""How many bytes (of the versions' serialized messages) one admin keeps."""


Rules = tuple[tuple[str, tuple[tuple[str, str], ...]], ...]
"""Task resource rules (``{"defaults": {...}, "limits": {...}}``) as a hashable key."""


@dataclass(frozen=True)
class Target:
    """What an execution of one registered version runs: its compiled workflow, the inputs it expects, and the
    rows it came from. Shared between calls: never modify its messages (copy them)."""

    what: str
    """``launch plan 'p/d/lp@v'`` or ``task 'p/d/t@v'``, for messages."""
    closure: compiler_pb2.CompiledWorkflowClosure
    expected: interface_pb2.ParameterMap
    fixed: literals_pb2.LiteralMap
    launch_plan: launch_plan_pb2.LaunchPlan | None
    """The launch plan's id and spec (its closure's state is not kept up to date: read the row for that)."""
    launch_plan_id: int | None
    """Row ids, for the execution's row."""
    workflow_id: int | None
    task_id: int | None
    stored_closures: dict[Rules, tuple[str, compiler_pb2.CompiledWorkflowClosure]] = field(
        default_factory=dict, compare=False, repr=False
    )
    """The closure with task resource rules applied, and the URI this process stored it at, by the rules
    (:func:`roost_admin.services.launching.stored_closure`): each variant is made and written once."""

    @property
    def size(self) -> int:
        """Bytes it holds, roughly: its messages' serialized sizes."""
        plan = self.launch_plan.ByteSize() if self.launch_plan is not None else 0
        return int(self.closure.ByteSize() + self.expected.ByteSize() + self.fixed.ByteSize() + plan)


Key = tuple[int, str, str, str, str]
"""(resource type, project, domain, name, version)."""


def key_of(identifier: identifier_pb2.Identifier) -> Key:
    """The cache key of a (checked) identifier."""
    return (
        identifier.resource_type,
        identifier.project,
        identifier.domain,
        identifier.name,
        identifier.version,
    )


def _size(target: Target) -> int:
    return target.size


class TargetCache:
    """A thread-safe LRU of targets by registered version (launch plan or task), up to ``budget`` bytes."""

    def __init__(self, budget: int = CACHE_BYTES) -> None:
        self._budget = budget
        self._values: LRUCache[Key, Target] = LRUCache(maxsize=budget, getsizeof=_size)
        self._lock = threading.Lock()

    def get(self, identifier: identifier_pb2.Identifier) -> Target | None:
        """The value kept for this version, if any."""
        with self._lock:
            return self._values.get(key_of(identifier))

    def put(self, identifier: identifier_pb2.Identifier, target: Target) -> None:
        """Keep ``target`` for this version (one larger than the whole budget is not kept)."""
        if target.size > self._budget:
            return
        with self._lock:
            self._values[key_of(identifier)] = target

    def __len__(self) -> int:
        with self._lock:
            return len(self._values)
