"""The Pod handler end to end against the test server: a task's pod runs, and its outcome is read."""

from __future__ import annotations

from flyteidl.core import literals_pb2, security_pb2
from helpers import NAMESPACE, make_context, program_task

from roost_core.handler import TaskPhase
from roost_core.testing.driver import Driver


def test_a_task_runs_as_a_pod_and_its_outputs_are_read(server, handler, kubeconfig, tmp_path):
    task = program_task("double", inputs=["x"], outputs=["o0"])
    ctx = make_context(tmp_path, task, inputs={"x": 21})
    driver = Driver(handler, ctx)
    done = driver.until_done()
    assert done.phase is TaskPhase.SUCCESS, done
    outputs = ctx.storage.read_proto(ctx.outputs_uri, literals_pb2.LiteralMap)
    assert outputs.literals["o0"].scalar.primitive.integer == 42
    assert driver.ctx.state["namespace"] == NAMESPACE
    pod = server.get("pods", NAMESPACE, driver.ctx.state["name"])
    assert pod["status"]["phase"] == "Succeeded"


def test_a_task_secret_reaches_the_process_as_an_environment_variable(server, handler, kubeconfig, tmp_path):
    server.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "db", "namespace": NAMESPACE},
            "stringData": {"password": "hunter2"},
        }
    )
    task = program_task("env", "_FSEC_DB_PASSWORD", "DB_PASS", outputs=[])
    task.security_context.secrets.add(
        group="db", key="password", mount_requirement=security_pb2.Secret.ENV_VAR, env_var="DB_PASS"
    )
    ctx = make_context(tmp_path, task)
    done = Driver(handler, ctx).until_done()
    assert done.phase is TaskPhase.SUCCESS, done
    outputs = ctx.storage.read_proto(ctx.outputs_uri, literals_pb2.LiteralMap)
    seen = {name: literal.scalar.primitive.string_value for name, literal in outputs.literals.items()}
    assert seen == {"_FSEC_DB_PASSWORD": "hunter2", "DB_PASS": "hunter2"}
