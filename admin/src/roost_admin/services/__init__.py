"""The admin's domain: plain services over an explicit, immutable :class:`ServiceContext`.

Each service speaks flyteidl messages (or small typed values, for the engine) and raises Roost's own errors
(:mod:`roost_admin.errors`); none imports gRPC, HTTP or the worker pool. The transports (:mod:`roost_admin.server`
for gRPC, :mod:`roost_admin.http`) map requests to service calls and errors to their statuses; the engine workers
(:mod:`roost_admin.workers`) launch child executions, record events and read signals through them.

    services = Services(ServiceContext(settings=settings, db=Database(url), storage=storage))
    services.projects.ensure_defaults()
    services.executions.create_execution(request)
"""

from __future__ import annotations

from roost_admin.services.attributes import Attributes
from roost_admin.services.context import ServiceContext, Wakeups
from roost_admin.services.dataproxy import DataProxy
from roost_admin.services.events import Events
from roost_admin.services.executions import Executions
from roost_admin.services.metrics import Metrics
from roost_admin.services.nodes import NodeExecutions
from roost_admin.services.notifications import Notifier
from roost_admin.services.projects import Projects
from roost_admin.services.publishing import Publisher
from roost_admin.services.recovery import Recovery
from roost_admin.services.registry import Registry
from roost_admin.services.scheduler import Scheduler
from roost_admin.services.signals import Signals
from roost_admin.services.status import Status
from roost_admin.services.watching import Watching

__all__ = ["ServiceContext", "Services", "Wakeups"]


class Services:
    """Every service of one admin, over one context."""

    def __init__(self, context: ServiceContext) -> None:
        self.context = context
        self.projects = Projects(context)
        self.attributes = Attributes(context)
        self.registry = Registry(context)
        self.executions = Executions(context)
        self.recovery = Recovery(context)
        self.nodes = NodeExecutions(context)
        self.events = Events(context)
        self.signals = Signals(context)
        self.dataproxy = DataProxy(context)
        self.status = Status(context)
        self.scheduler = Scheduler(context, self.executions)
        self.metrics = Metrics(context, self.executions, self.nodes, self.registry)
        self.notifier = Notifier(context)
        self.publisher = Publisher(context)
        self.watching = Watching(context)
