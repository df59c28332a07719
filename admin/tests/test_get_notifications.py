"""`roost get notifications EXEC`: the SDK's CLI reads each delivery's state, attempts and last error from a
running admin over gRPC (Roost's own ListExecutionNotifications RPC beside flyteidl's services)."""

from __future__ import annotations

import json

import grpc
import pytest
import schedule_flows as sf
from click.testing import CliRunner
from conftest import make_settings, started
from flyteidl.admin import execution_pb2
from flyteidl.core import identifier_pb2
from google.protobuf import struct_pb2
from test_notifications import SECRET, Phase, _end, _launch, receiving

from roost.cli import main


def test_roost_get_notifications_shows_each_delivery(tmp_path, database_url):
    with receiving([500]) as failing, receiving() as working:
        hooks = [
            {"name": "failing", "url": failing.url, "secret": SECRET},
            {"name": "working", "url": working.url, "secret": SECRET},
        ]
        # The notifier thread's first round finds nothing; the test delivers the rounds itself.
        options = {"webhooks": hooks, "max_attempts": 1, "poll_interval": 3600}
        with started(make_settings(tmp_path, database_url, notifications=options)) as app:
            sf.register_workflow(app.services)
            _launch(app.services, "told")
            _launch(app.services, "quiet", disable_all=True)
            _end(app.services, "told", Phase.FAILED, error="it broke")
            app.services.notifier.deliver_due("tester")
            env = {
                "ROOST_ENDPOINT": f"127.0.0.1:{app.grpc_port}",
                "ROOST_CLIENT_CONFIG": str(tmp_path / "client.yaml"),
                "ROOST_PROJECT": sf.PROJECT,
                "ROOST_DOMAIN": sf.DOMAIN,
            }
            shown = CliRunner().invoke(main, ["get", "notifications", "told", "-o", "json"], env=env)
            table = CliRunner().invoke(main, ["get", "notifications", "told"], env=env)
            none = CliRunner().invoke(main, ["get", "notifications", "quiet"], env=env)
            missing = CliRunner().invoke(main, ["get", "notifications", "nope"], env=env)
            with grpc.insecure_channel(f"127.0.0.1:{app.grpc_port}") as channel:
                listed = channel.unary_unary(
                    "/roost.admin.RoostService/ListExecutionNotifications",
                    request_serializer=execution_pb2.WorkflowExecutionGetRequest.SerializeToString,
                    response_deserializer=struct_pb2.Struct.FromString,
                )
                with pytest.raises(grpc.RpcError) as refused:
                    listed(
                        execution_pb2.WorkflowExecutionGetRequest(
                            id=identifier_pb2.WorkflowExecutionIdentifier()
                        )
                    )
    assert shown.exit_code == 0, shown.output
    rows = sorted(json.loads(shown.output), key=lambda row: row["channel"])
    assert [(r["channel"], r["phase"], r["state"], r["attempts"]) for r in rows] == [
        ("failing", "FAILED", "failed", 1),
        ("working", "FAILED", "delivered", 1),
    ]
    assert rows[0]["last error"] == "the receiver answered 500 Internal Server Error"
    assert rows[0]["delivered"] == "" and rows[1]["delivered"] and rows[1]["last error"] == ""
    assert table.exit_code == 0 and "failing" in table.output and "delivered" in table.output
    assert none.output.strip() == "execution flytesnacks/development/quiet has no notifications"
    assert missing.exit_code != 0
    assert "ListExecutionNotifications failed at" in missing.output
    assert "NOT_FOUND: execution flytesnacks/development/nope does not exist" in missing.output
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
