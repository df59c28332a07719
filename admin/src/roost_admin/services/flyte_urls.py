"""``flyte://`` data URLs, as flyteadmin parses them for ``DataProxyService.GetData`` (what ``pyflyte fetch`` and
FlyteRemote's ``get`` send).

``flyte://v1/{project}/{domain}/{execution}/{node}[/{attempt}]/{i|o|d}[/{name}]``: a node execution's inputs,
outputs or deck, or with ``attempt`` one task attempt's; with ``name``, one input or output. Roost also accepts
``flyte://v1/{project}/{domain}/{execution}/{i|o}[/{name}]`` for the execution's own inputs and outputs
(flyteadmin has no URL for those).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flyteidl.core import identifier_pb2

from roost_admin.errors import InvalidArgument

_PART = r"[a-zA-Z0-9_-]+"
_NODE = re.compile(
    rf"flyte://v1/(?P<project>{_PART})/(?P<domain>{_PART})/(?P<execution>{_PART})/(?P<node>{_PART})"
    rf"(?:/(?P<attempt>[0-9]+))?/(?P<kind>[iod])(?:/(?P<name>{_PART}))?"
)
_EXECUTION = re.compile(
    rf"flyte://v1/(?P<project>{_PART})/(?P<domain>{_PART})/(?P<execution>{_PART})/(?P<kind>[io])(?:/(?P<name>{_PART}))?"
)
_FORMS = (
    "flyte://v1/PROJECT/DOMAIN/EXECUTION[/NODE[/ATTEMPT]]/{i|o}[/NAME] or "
    "flyte://v1/PROJECT/DOMAIN/EXECUTION/NODE[/ATTEMPT]/d"
)


@dataclass(frozen=True, slots=True)
class FlyteURL:
    """What a ``flyte://`` URL names."""

    execution: identifier_pb2.WorkflowExecutionIdentifier
    node: str
    """The node id; "" for the execution itself."""
    attempt: int | None
    """The task attempt, when the URL names one."""
    kind: str
    """``i`` (inputs), ``o`` (outputs) or ``d`` (deck)."""
    name: str
    """One input or output; "" for all of them."""


def parse(url: str) -> FlyteURL:
    """Parse ``url``; INVALID_ARGUMENT naming the accepted forms if it is not one of them."""
    found = _EXECUTION.fullmatch(url)
    node = ""
    attempt: int | None = None
    if found is None:
        found = _NODE.fullmatch(url)
        if found is None:
            raise InvalidArgument(f"flyte_url {url!r} is not a flyte data URL ({_FORMS})", field="flyte_url")
        node = found["node"]
        attempt = int(found["attempt"]) if found["attempt"] is not None else None
        if found["kind"] == "d" and found["name"]:
            raise InvalidArgument(f"flyte_url {url!r}: a deck has no named parts", field="flyte_url")
    execution = identifier_pb2.WorkflowExecutionIdentifier(
        project=found["project"], domain=found["domain"], name=found["execution"]
    )
    return FlyteURL(execution, node, attempt, found["kind"], found["name"] or "")
