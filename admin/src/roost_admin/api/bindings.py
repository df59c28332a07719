"""flyteadmin's HTTP routes, read from flyteidl itself: each RPC of the AdminService, SignalService and
DataProxyService carries a ``google.api.http`` option (verb, path template, body), which flyteadmin's grpc-gateway
serves. :func:`bindings` lists them (additional bindings included), so Roost serves the same paths without a
table of its own to drift from flyteidl's."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from google.api import annotations_pb2  # type: ignore[import-untyped]
from google.protobuf.descriptor import MethodDescriptor

SERVICES = (
    ("flyteidl.service.admin_pb2", "AdminService"),
    ("flyteidl.service.signal_pb2", "SignalService"),
    ("flyteidl.service.dataproxy_pb2", "DataProxyService"),
)
"""The flyteidl services whose HTTP routes are served, by module and name."""

_VARIABLE = re.compile(r"\{([a-z_][a-z0-9_.]*)\}")


@dataclass(frozen=True)
class Binding:
    """One HTTP route of one RPC."""

    verb: str
    """GET, POST, PUT or DELETE."""
    template: str
    """flyteidl's path template, ``/api/v1/tasks/{id.project}/{id.domain}``."""
    body: str
    """``*`` when the request message is the body, empty when it comes from the path and query string."""
    method: MethodDescriptor

    @property
    def operation(self) -> str:
        """The RPC's full name, ``/flyteidl.service.AdminService/GetTask`` (the key of auth's rules)."""
        return f"/{self.method.containing_service.full_name}/{self.method.name}"

    @property
    def variables(self) -> tuple[str, ...]:
        """The request fields the path holds, in order (``id.project``, ``id.domain``)."""
        return tuple(_VARIABLE.findall(self.template))

    @property
    def route_path(self) -> str:
        """The template as a Starlette path (``{v0}``, ``{v1}``: Starlette names cannot hold dots)."""
        index = iter(range(len(self.variables)))
        return _VARIABLE.sub(lambda _: f"{{v{next(index)}}}", self.template)


@cache
def bindings() -> tuple[Binding, ...]:
    """Every HTTP route of the served flyteidl services, in flyteidl's order."""
    import importlib

    found: list[Binding] = []
    for module_name, service_name in SERVICES:
        module = importlib.import_module(module_name)
        service = module.DESCRIPTOR.services_by_name[service_name]
        for method in service.methods:
            options = method.GetOptions()
            if not options.HasExtension(annotations_pb2.http):
                continue
            rule = options.Extensions[annotations_pb2.http]
            for each in (rule, *rule.additional_bindings):
                verb = each.WhichOneof("pattern")
                found.append(Binding(verb.upper(), getattr(each, verb), each.body, method))
    return tuple(found)
