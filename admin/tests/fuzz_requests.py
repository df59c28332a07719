"""Hypothesis strategies for the requests of the admin's gRPC services and for HTTP requests to its endpoint.

Requests are built from the services' descriptors, so every RPC, including ones flyteidl adds later, is covered
without a line here. A request is empty, random bytes, random (every field may be set, to any value its type allows:
unknown enum numbers, out-of-range durations and timestamps, NUL characters, huge numbers, NaN), plausible (fields
the pools know a value for are filled from them), or a known-good or plausible request with random fields merged
in. Pools of plausible values (existing projects, names, execution and node ids, valid
registrations) make random requests reach past the first check often enough to exercise what lies behind it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flyteidl.service import admin_pb2, dataproxy_pb2, signal_pb2
from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st

SERVICES = (
    admin_pb2.DESCRIPTOR.services_by_name["AdminService"],
    dataproxy_pb2.DESCRIPTOR.services_by_name["DataProxyService"],
    signal_pb2.DESCRIPTOR.services_by_name["SignalService"],
)


def methods() -> list[MethodDescriptor]:
    """Every RPC of the AdminService, DataProxyService and SignalService."""
    return [method for service in SERVICES for method in service.methods]


def path_of(method: MethodDescriptor) -> str:
    """The gRPC path of a method: ``/flyteidl.service.AdminService/GetTask``."""
    return f"/{method.containing_service.full_name}/{method.name}"


def message_class(descriptor: Descriptor) -> type[Message]:
    """The generated class of a message type."""
    return message_factory.GetMessageClass(descriptor)


EDGE_STRINGS = (
    "",
    "a",
    "\x00",
    "a\x00b",
    "é",
    "\U0001f4a5",
    "../../etc/passwd",
    "/abs",
    "%",
    "_",
    "' OR '1'='1",
    "99999999999999999999",
    "-1",
    "٣",
    " ",
    "\n",
    "x" * 300,
)
"""Strings that have broken servers before."""

_INT_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}
_UNKNOWN_ENUM_NUMBERS = (-1, 99, 999, 2**31 - 1, -(2**31))


@dataclass
class Pools:
    """Plausible values: strings by field name, messages by message type (full name)."""

    strings: dict[str, list[str]] = field(default_factory=dict)
    integers: dict[str, list[int]] = field(default_factory=dict)
    messages: dict[str, list[Message]] = field(default_factory=dict)

    def add(self, message: Message) -> None:
        """Offer ``message`` wherever its type is asked for."""
        self.messages.setdefault(message.DESCRIPTOR.full_name, []).append(message)


def _integers(low: int, high: int) -> st.SearchStrategy[int]:
    edges = sorted(
        {v for v in (low, high, 0, 1, -1, 2, 100, 2**31 - 1, 2**32 - 1, 2**63 - 1) if low <= v <= high}
    )
    return st.one_of(st.sampled_from(edges), st.integers(low, high))


class RequestStrategies:
    """Strategies for request messages, drawing plausible values from ``pools``."""

    def __init__(self, pools: Pools, *, depth: int = 3, list_size: int = 2) -> None:
        self.pools = pools
        self.depth = depth
        self.list_size = list_size

    def request(self, method: MethodDescriptor) -> st.SearchStrategy[Message | bytes]:
        """A request for ``method``: empty; random; plausible (every field the pools know filled from them, the
        others random); a known-good one with random fields merged in; or a few random bytes."""
        descriptor = method.input_type
        cls = message_class(descriptor)
        plausible = self.plausible(descriptor)
        choices: list[st.SearchStrategy[Message | bytes]] = [
            st.builds(cls),
            self.message(descriptor, self.depth),
            plausible,
            plausible,
            st.tuples(plausible, self.message(descriptor, 2)).map(_merged),
            st.binary(max_size=48),
        ]
        seeds = self.pools.messages.get(descriptor.full_name)
        if seeds:
            choices.append(st.tuples(st.sampled_from(seeds), self.message(descriptor, 2)).map(_merged))
        return st.sampled_from(choices).flatmap(lambda chosen: chosen)

    @functools.cache  # noqa: B019  # as for message()
    def plausible(self, descriptor: Descriptor, depth: int = 3) -> st.SearchStrategy[Message]:
        """A message whose fields are filled from the pools wherever they know a value for them (by message
        type, or by field name), its other messages plausible in turn (``depth`` levels), and its other fields
        random or left out."""
        required: dict[str, st.SearchStrategy[Any]] = {}
        optional: dict[str, st.SearchStrategy[Any]] = {}
        for f in descriptor.fields:
            pooled = self._pooled(f)
            if pooled is not None and not f.is_repeated:
                required[f.name] = pooled
            elif f.type == FieldDescriptor.TYPE_MESSAGE and not f.is_repeated and depth > 0:
                required[f.name] = self.plausible(f.message_type, depth - 1)
            else:
                optional[f.name] = self._field(f, depth)
        return st.fixed_dictionaries(required, optional=optional).map(
            functools.partial(_build, message_class(descriptor))
        )

    def _pooled(self, f: FieldDescriptor) -> st.SearchStrategy[Any] | None:
        if f.type == FieldDescriptor.TYPE_MESSAGE:
            pool = self.pools.messages.get(f.message_type.full_name)
        elif f.type == FieldDescriptor.TYPE_STRING:
            pool = self.pools.strings.get(f.name)
        elif f.type in _INT_RANGES:
            pool = self.pools.integers.get(f.name)
        else:
            pool = None
        return st.sampled_from(pool) if pool else None

    @functools.cache  # noqa: B019  # one strategy per type and depth, for the life of the (test-scoped) instance
    def message(self, descriptor: Descriptor, depth: int) -> st.SearchStrategy[Message]:
        """A message of ``descriptor``'s type: one from the pools, or one with random fields (``depth`` levels)."""
        cls = message_class(descriptor)
        if depth <= 0:
            generic: st.SearchStrategy[Message] = st.builds(cls)
        else:
            optional = {f.name: self._field(f, depth) for f in descriptor.fields}
            generic = st.fixed_dictionaries({}, optional=optional).map(functools.partial(_build, cls))
        pool = self.pools.messages.get(descriptor.full_name)
        return st.one_of(st.sampled_from(pool), generic) if pool else generic

    def _field(self, f: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
        if f.message_type is not None and f.message_type.GetOptions().map_entry:
            key = self._single(f.message_type.fields_by_name["key"], depth)
            value = self._single(f.message_type.fields_by_name["value"], depth)
            return st.dictionaries(key, value, max_size=self.list_size)
        single = self._single(f, depth)
        if f.is_repeated:
            return st.lists(single, max_size=self.list_size)
        return single

    def _single(self, f: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
        kind = f.type
        if kind == FieldDescriptor.TYPE_MESSAGE:
            return self.message(f.message_type, depth - 1)
        if kind == FieldDescriptor.TYPE_ENUM:
            # Mostly known values, so that the rest of the request gets looked at too.
            known = [v.number for v in f.enum_type.values]
            return st.sampled_from(known * 4 + list(_UNKNOWN_ENUM_NUMBERS))
        if kind == FieldDescriptor.TYPE_STRING:
            return self.string(f.name)
        if kind == FieldDescriptor.TYPE_BYTES:
            return st.one_of(st.binary(max_size=24), st.binary(min_size=16, max_size=16))
        if kind == FieldDescriptor.TYPE_BOOL:
            return st.booleans()
        if kind in _INT_RANGES:
            pool = self.pools.integers.get(f.name)
            generic = _integers(*_INT_RANGES[kind])
            return st.one_of(st.sampled_from(pool), generic) if pool else generic
        return st.floats(width=32 if kind == FieldDescriptor.TYPE_FLOAT else 64)

    def string(self, name: str) -> st.SearchStrategy[str]:
        """A string for a field called ``name``: a plausible one from the pools, an edge case, or any text."""
        generic = st.one_of(st.sampled_from(EDGE_STRINGS), st.text(max_size=24))
        named = self.pools.strings.get(name)
        return st.one_of(st.sampled_from(named), generic) if named else generic


def _merged(pair: tuple[Message, Message]) -> Message:
    base, changes = pair
    merged = type(base)()
    merged.CopyFrom(base)
    merged.MergeFrom(changes)
    return merged


def _build(cls: type[Message], values: Mapping[str, Any]) -> Message:
    message = cls()
    descriptor = message.DESCRIPTOR
    for name, value in values.items():
        f = descriptor.fields_by_name[name]
        if f.message_type is not None and f.message_type.GetOptions().map_entry:
            target = getattr(message, name)
            if f.message_type.fields_by_name["value"].message_type is not None:
                for key, item in value.items():
                    target[key].CopyFrom(item)
            else:
                target.update(value)
        elif f.is_repeated:
            getattr(message, name).extend(value)
        elif f.type == FieldDescriptor.TYPE_MESSAGE:
            getattr(message, name).CopyFrom(value)
        else:
            setattr(message, name, value)
    return message


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP request to the admin's endpoint."""

    method: str
    path: str
    query: Sequence[tuple[str, str]]
    headers: Sequence[tuple[bytes, bytes]]
    body: bytes


def http_requests(signed_urls: Sequence[str], base: str) -> st.SearchStrategy[HttpRequest]:
    """HTTP requests: random methods, paths, query strings, headers and bodies, some of them changes to real
    signed URLs (``signed_urls``, under ``base``)."""
    import re
    from urllib.parse import parse_qsl, quote, urlsplit

    from roost_admin.api.bindings import bindings

    real = [urlsplit(url) for url in signed_urls]
    texts = st.one_of(st.sampled_from(EDGE_STRINGS), st.text(max_size=24))
    templates = [
        *sorted({binding.template for binding in bindings()}),
        "/api/v1/events/executions/{p}/{d}/{n}",
        "/console/projects/{p}",
        "/console/projects/{p}/{s}",
        "/console/projects/{p}/domains/{d}/{s}",
        "/console/projects/{p}/domains/{d}/executions/{n}",
        "/console/projects/{p}/domains/{d}/executions/{n}/terminate",
        "/console/projects/{p}/domains/{d}/executions/{n}/signals/{s}",
        "/console/projects/{p}/domains/{d}/executions/{n}/nodes/{s}/attempts/{a}/logs/{l}",
        "/console/projects/{p}/domains/{d}/{k}/{n}/version/{v}",
        "/console/projects/{p}/domains/{d}/launch_plan/{n}/version/{v}/launch",
    ]

    def filled(template: str, parts: list[str]) -> str:
        values = iter(parts)
        return re.sub(r"\{[^}]+\}", lambda _: quote(next(values), safe=""), template)

    served = st.tuples(st.sampled_from(templates), st.lists(texts, min_size=12, max_size=12)).map(
        lambda pair: filled(*pair)
    )
    paths = st.one_of(
        served,
        st.sampled_from(
            ["/healthz", "/data/", "/data", "/", "/data/%00", "/data/a%2F..%2F..%2Fetc", "/nope"]
        ),
        st.sampled_from([u.path for u in real]),
        st.lists(texts, min_size=1, max_size=4).map(
            lambda parts: "/data/" + "/".join(quote(p, safe="") for p in parts)
        ),
    )
    real_queries = [parse_qsl(u.query) for u in real]
    changed = st.tuples(
        st.sampled_from(real_queries),
        st.dictionaries(st.sampled_from(["expires", "signature", "method"]), texts, max_size=2),
    ).map(lambda pair: [(k, v) for k, v in pair[0] if k not in pair[1]] + list(pair[1].items()))
    queries = st.one_of(
        st.just([]), st.sampled_from(real_queries), changed, st.lists(st.tuples(texts, texts), max_size=3)
    )
    # What HTTP lets a header value hold: visible ASCII, inner spaces and tabs, bytes above 0x7f; no control bytes.
    header_bytes = st.sampled_from([b for b in range(256) if b in (9, 32) or 33 <= b <= 126 or b >= 128])
    header_values = st.one_of(
        st.lists(header_bytes, max_size=30).map(lambda b: bytes(b).strip(b" \t")),
        st.sampled_from([b"1B2M2Y8AsgTpgAmY7PhCfg==", b"", b"\xe9t\xe9"]),
    )
    headers = st.lists(
        st.tuples(
            st.sampled_from([b"content-md5", b"content-type", b"x-request-id", b"range"]), header_values
        ),
        max_size=3,
    )
    return st.builds(
        HttpRequest,
        method=st.sampled_from(["GET", "PUT", "HEAD", "POST", "DELETE", "OPTIONS", "PATCH"]),
        path=paths,
        query=queries,
        headers=headers,
        body=st.binary(max_size=64),
    )
