"""The remote job machinery: run tasks as jobs on another system (a query engine, a web API).

A plugin author subclasses :class:`RemoteJobPlugin` (``create`` / ``get`` / ``delete`` / ``status``)
and registers ``RemoteJobHandler(MyPlugin())``. The handler keeps quotas (:class:`ResourceManager`),
read and write rate limits (:class:`TokenBucket`), a background :class:`StatusCache` that wakes
executions when a job's status changes, retries of failed calls, and the persisted
:class:`RemoteJobState` that lets a restarted engine find its jobs again. Settings:
:class:`RemoteJobSettings`.
"""

from roost_core.remote.config import RateLimit, RemoteJobSettings
from roost_core.remote.handler import RemoteJobError, RemoteJobHandler, describe_attempt
from roost_core.remote.naming import attempt_job_id
from roost_core.remote.plugin import JobMeta, RemoteJobPlugin, UserError
from roost_core.remote.quota import MemoryResourceManager, Refusal, ResourceManager
from roost_core.remote.ratelimit import TokenBucket
from roost_core.remote.state import CorruptStateError, JobPhase, RemoteJobState
from roost_core.remote.status_cache import CachedStatus, StatusCache

__all__ = [
    "CachedStatus",
    "CorruptStateError",
    "JobMeta",
    "JobPhase",
    "MemoryResourceManager",
    "RateLimit",
    "Refusal",
    "RemoteJobError",
    "RemoteJobHandler",
    "RemoteJobPlugin",
    "RemoteJobSettings",
    "RemoteJobState",
    "ResourceManager",
    "StatusCache",
    "TokenBucket",
    "UserError",
    "attempt_job_id",
    "describe_attempt",
]
