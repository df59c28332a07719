"""What a task process can read: not the admin's configuration, database credentials or URL signing key."""

from __future__ import annotations

import isolation_flows
import registry_flows
from execution_support import running_admin, wait
from flyteidl.admin import execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2


def strings(values: list[str]) -> literals_pb2.Literal:
    items = [
        literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(string_value=v)))
        for v in values
    ]
    return literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=items))


def test_a_task_finds_no_secret_in_its_environment_or_folders(tmp_path, database_url, monkeypatch):
    canary = "canary-3f9a1c"
    monkeypatch.setenv("ROOST_DB_URL_CANARY", canary)
    monkeypatch.setenv("PGPASSWORD", canary)
    with running_admin(tmp_path, database_url, workers=1, register=False) as (app, admin, _):
        registry_flows.register(admin, registry_flows.serialize(isolation_flows.snoop, version="v1"))
        signing_key = (app.settings.data_dir / "signing.key").read_text().strip()
        request = execution_pb2.ExecutionCreateRequest(
            project=registry_flows.PROJECT,
            domain=registry_flows.DOMAIN,
            spec=execution_pb2.ExecutionSpec(
                launch_plan=identifier_pb2.Identifier(
                    resource_type=identifier_pb2.LAUNCH_PLAN,
                    project=registry_flows.PROJECT,
                    domain=registry_flows.DOMAIN,
                    name="isolation_flows.snoop",
                    version="v1",
                )
            ),
            inputs=literals_pb2.LiteralMap(literals={"needles": strings([signing_key, canary])}),
        )
        done = wait(admin, admin.CreateExecution(request).id)
        assert done.closure.phase == core_execution_pb2.WorkflowExecution.SUCCEEDED, (
            done.closure.error.message
        )
        data = admin.GetExecutionData(execution_pb2.WorkflowExecutionGetDataRequest(id=done.id))
        found = [
            item.scalar.primitive.string_value
            for item in data.full_outputs.literals["o0"].collection.literals
        ]
        assert found == []
