"""The examples whose graphs nest (``basics``: a sub-workflow, ``dynamic``, ``conditional``, ``map``) on a test
admin: registered from ``examples/`` as `roost run --remote` would register them, run by task processes that
import them from there."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import registry_flows
from execution_support import DOMAIN, PROJECT, TESTS, VERSION, engine_section, literal_map
from flyteidl.admin import execution_pb2
from flyteidl.core import identifier_pb2
from flyteidl.service import admin_pb2_grpc

EXAMPLES = TESTS.parents[1] / "examples"
NESTED = ("basics", "dynamic", "conditional", "map")


def engine() -> dict[str, Any]:
    """Engine settings whose task processes import the test flows and the examples."""
    return engine_section(
        task_environment={"env": {"PYTHONPATH": os.pathsep.join([str(TESTS), str(EXAMPLES)])}}
    )


def register(admin: admin_pb2_grpc.AdminServiceStub, *extra: object) -> None:
    """Register the nested examples' ``wf`` workflows (and ``extra`` flows) with their default launch plans."""
    if str(EXAMPLES) not in sys.path:
        sys.path.append(str(EXAMPLES))
    workflows = [importlib.import_module(name).wf for name in NESTED]
    registry_flows.register(admin, registry_flows.serialize(*workflows, *extra, version=VERSION))


def run(
    admin: admin_pb2_grpc.AdminServiceStub, plan: str, name: str, **inputs: Any
) -> identifier_pb2.WorkflowExecutionIdentifier:
    """Launch the launch plan ``plan`` (``map.wf``: the map example's default one) as execution ``name``."""
    plan = identifier_pb2.Identifier(
        resource_type=identifier_pb2.LAUNCH_PLAN, project=PROJECT, domain=DOMAIN, name=plan, version=VERSION
    )
    request = execution_pb2.ExecutionCreateRequest(
        project=PROJECT,
        domain=DOMAIN,
        name=name,
        spec=execution_pb2.ExecutionSpec(
            launch_plan=plan, metadata=execution_pb2.ExecutionMetadata(principal="tester")
        ),
        inputs=literal_map(**inputs),
    )
    return admin.CreateExecution(request).id
