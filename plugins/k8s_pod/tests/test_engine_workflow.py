"""A workflow through the real roost-core Engine, its tasks run as pods by the test server's kubelet."""

from __future__ import annotations

from pathlib import Path

from flyteidl.core import identifier_pb2, literals_pb2, types_pb2, workflow_pb2
from helpers import handler_config, program_task

import roost_k8s_pod.engine
from roost_core.compiler import compile_workflow
from roost_core.engine import Engine, EngineConfig, FileStateStore
from roost_core.engine.phases import WorkflowPhase
from roost_core.plugins import EnginePlugins
from roost_core.storage import Storage
from roost_core.storage.file import FileStore
from roost_core.testing.driver import WAIT_SECONDS, wait_until
from roost_core.testing.tasks import integer


def chain(first_mode: str, *first_args: str):
    """x → n0 (first_mode) → n1 (double) → o0."""
    first = program_task(first_mode, *first_args, inputs=["x"], outputs=["o0"])
    first.id.name = "tests.first"
    second = program_task("double", inputs=["x"], outputs=["o0"])
    second.id.name = "tests.second"

    def node(node_id: str, task, source: literals_pb2.BindingData) -> workflow_pb2.Node:
        return workflow_pb2.Node(
            id=node_id,
            inputs=[literals_pb2.Binding(var="x", binding=source)],
            task_node=workflow_pb2.TaskNode(reference_id=task.id),
        )

    def promise(node_id: str, var: str) -> literals_pb2.BindingData:
        return literals_pb2.BindingData(promise=types_pb2.OutputReference(node_id=node_id, var=var))

    workflow = workflow_pb2.WorkflowTemplate(
        id=identifier_pb2.Identifier(
            resource_type=identifier_pb2.WORKFLOW, project="proj", domain="dev", name="tests.wf", version="v1"
        ),
        interface=first.interface,
        nodes=[node("n0", first, promise("", "x")), node("n1", second, promise("n0", "o0"))],
        outputs=[literals_pb2.Binding(var="o0", binding=promise("n1", "o0"))],
    )
    return compile_workflow(workflow, [first, second])


def engine(tmp_path: Path, kubeconfig: Path) -> Engine:
    config = EngineConfig(
        default_for_task_types={"python-task": "k8s-pod"},
        handlers={"k8s-pod": handler_config(kubeconfig, recheck_interval=3600)},
        poll_interval=3600,  # nothing polls: only the informers' wake-ups move the execution
    )
    return Engine(
        Storage({"file": FileStore(root=str(tmp_path))}),
        config=config,
        plugins=EnginePlugins([roost_k8s_pod.engine], entry_points=False),
        state_store=FileStateStore(tmp_path / "state"),
    )


def execution_id(name: str) -> identifier_pb2.WorkflowExecutionIdentifier:
    return identifier_pb2.WorkflowExecutionIdentifier(project="proj", domain="dev", name=name)


def pod_creates(server) -> list[str]:
    return [
        r.path for r in server.requests if r.method == "POST" and r.path.endswith("/pods") and r.status == 201
    ]


def test_a_workflow_runs_its_tasks_as_pods(server, kubeconfig, tmp_path):
    runner = engine(tmp_path, kubeconfig)
    try:
        run = runner.execute(
            execution_id("wf1"),
            chain("double"),
            literals_pb2.LiteralMap(literals={"x": integer(5)}),
            data_prefix=f"file://{tmp_path}/data/wf1",
            timeout=WAIT_SECONDS,
        )
        assert run.state.phase is WorkflowPhase.SUCCEEDED, run.state.error
        assert runner.outputs(run).literals["o0"].scalar.primitive.integer == 20
    finally:
        runner.close()
    assert len(pod_creates(server)) == 2
    wait_until(lambda: server.list_objects("pods", "proj-dev") == [], "finalize to delete the pods")


def test_a_restarted_engine_finishes_the_workflow_without_a_second_pod(server, kubeconfig, tmp_path):
    go = tmp_path / "go"
    first = engine(tmp_path, kubeconfig)
    run = first.start(
        execution_id("wf2"),
        chain("gate", str(go)),
        literals_pb2.LiteralMap(literals={"x": integer(1)}),
        data_prefix=f"file://{tmp_path}/data/wf2",
    )

    def n0_running() -> bool:
        first.evaluate(run)
        pods = server.list_objects("pods", "proj-dev")
        return bool(pods) and pods[0]["status"]["phase"] == "Running"

    wait_until(n0_running, "the first task's pod to run")
    first.close()  # the engine process goes away; the pod runs on

    second = engine(tmp_path, kubeconfig)
    try:
        resumed = second.resume(run.key)
        go.touch()
        state = second.run(resumed, timeout=WAIT_SECONDS)
        assert state.phase is WorkflowPhase.SUCCEEDED, state.error
        assert second.outputs(resumed).literals["o0"].scalar.primitive.integer == 4
    finally:
        second.close()
    assert len(pod_creates(server)) == 2  # n0 once, n1 once
