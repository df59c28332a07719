"""Pod-config tasks through the Pod handler, on the test server whose kubelet runs their primary containers.

The workflow is serialized by the Roost SDK and run by the real roost-core Engine; each pod's primary
container runs ``roost-execute`` (from this virtualenv) on ``sdk_tasks``, as in a Roost image.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sdk_tasks
from flyteidl.core import identifier_pb2, literals_pb2
from helpers import NAMESPACE, handler_config

import roost_k8s_pod.engine
from roost.serialize import SerializationSettings, Serializer
from roost_core.engine import Engine, EngineConfig, FileStateStore
from roost_core.engine.phases import WorkflowPhase
from roost_core.plugins import EnginePlugins
from roost_core.storage import Storage
from roost_core.storage.file import FileStore
from roost_core.testing.driver import WAIT_SECONDS
from roost_core.testing.tasks import integer
from roost_k8s_pod.testing import KubeletOptions, KubeTestServer

IMAGE = "tests/roost:1"
HERE = Path(__file__).parent


@pytest.fixture
def kubelet_server(tmp_path: Path) -> Iterator[KubeTestServer]:
    """The test server whose kubelet runs the Roost image as this virtualenv (roost-execute on PATH,
    this folder importable)."""
    options = KubeletOptions(
        work_dir=tmp_path / "kubelet",
        entrypoints={IMAGE: ["env"]},  # the image has no ENTRYPOINT: its args start with roost-execute
        env={
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": str(HERE),
        },
    )
    with KubeTestServer(kubelet=options) as server:
        server.create_namespace(NAMESPACE)
        yield server


def test_pod_tasks_run_as_pods(kubelet_server: KubeTestServer, tmp_path: Path) -> None:
    serializer = Serializer(SerializationSettings(project="proj", domain="dev", version="v1", image=IMAGE))
    closure = serializer.closure(sdk_tasks.pod_steps)
    assert {t.template.type for t in closure.tasks} == {"sidecar"}
    config = EngineConfig(
        default_for_task_types={"sidecar": "k8s-pod"},
        handlers={
            "k8s-pod": handler_config(
                kubelet_server.write_kubeconfig(tmp_path / "kubeconfig"), delete_on_finalize=False
            )
        },
    )
    engine = Engine(
        Storage({"file": FileStore()}),
        config=config,
        plugins=EnginePlugins([roost_k8s_pod.engine], entry_points=False),
        state_store=FileStateStore(tmp_path / "state"),
    )
    try:
        run = engine.execute(
            identifier_pb2.WorkflowExecutionIdentifier(project="proj", domain="dev", name="pods1"),
            closure,
            literals_pb2.LiteralMap(literals={"x": integer(40)}),
            data_prefix=f"file://{tmp_path}/data/pods1",
            timeout=WAIT_SECONDS,
        )
        assert run.state.phase is WorkflowPhase.SUCCEEDED, run.state.error
        assert engine.outputs(run).literals["o0"] == integer(42)
    finally:
        engine.close()
    pods = kubelet_server.list_objects("pods", NAMESPACE)
    assert len(pods) == 2
    for pod in pods:
        states = {c["name"]: c["state"] for c in pod["status"]["containerStatuses"]}
        assert states["primary"]["terminated"]["exitCode"] == 0  # the sidecar runs on, as a real one would
        assert pod["metadata"]["annotations"]["primary_container_name"] == "primary"
        sidecar, primary = pod["spec"]["containers"]
        assert (sidecar["name"], sidecar["image"]) == ("sidecar", "busybox")
        assert (primary["name"], primary["image"], primary["args"][0]) == ("primary", IMAGE, "roost-execute")
