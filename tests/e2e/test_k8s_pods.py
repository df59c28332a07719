"""End to end: `roost start` with the Pod handler for python tasks, against the Kubernetes API test server
whose kubelet runs each pod's container as a local process; the examples run remotely through pods."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES, Starter
from example_cases import ANSWERS, ARGUMENTS, FILE_LINES
from test_roost_cli import TIMEOUT, roost, succeeded

from roost_admin.testing.server import tool
from roost_k8s_pod.testing import KubeletOptions, KubeTestServer

NAMESPACE = "flytesnacks-development"
IMAGE = "ghcr.io/roost/roost:latest"
"""The image `roost register` gives tasks; the kubelet runs its containers' args through ``env``, on this
environment's PATH."""


@pytest.fixture
def k8s_server(tmp_path: Path) -> Iterator[KubeTestServer]:
    """The test server with its kubelet, and the namespace of the examples' project and domain."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    options = KubeletOptions(work_dir=tmp_path / "kubelet", env={"PATH": path}, entrypoints={IMAGE: ["env"]})
    with KubeTestServer(kubelet=options, bookmark_interval=0.5) as server:
        server.create_namespace(NAMESPACE)
        yield server


def test_examples_run_through_pods(k8s_server: KubeTestServer, roost_server: Starter, tmp_path: Path) -> None:
    kubeconfig = k8s_server.write_kubeconfig(tmp_path / "kubeconfig")
    settings = {
        "engine": {
            "default_for_task_types": {"python-task": "k8s-pod"},
            "kubernetes": {
                "clusters": {"default": {"kubeconfig": str(kubeconfig)}},
                "delete_on_finalize": False,  # kept, to be looked at below
            },
            "handlers": {"k8s-pod": {"create_container_error_grace_period": 0}},
        }
    }
    server = roost_server(settings=settings)
    env = server.client_env(tmp_path)
    # Plugin examples (PLUGIN_EXAMPLES) need their plugin package, which this session does not install.
    succeeded(roost(env, "register", ".", "--skip-errors"), server)

    runs = {
        example: subprocess.Popen(
            [tool("roost"), "run", "--remote", "--wait", "--no-progress", "-o", "json", example, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=EXAMPLES,
        )
        for example, args in ARGUMENTS.items()
    }
    outputs = {}
    for example, process in runs.items():
        stdout, stderr = process.communicate(timeout=TIMEOUT)
        result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        outputs[example] = json.loads(succeeded(result, server))
    for example, answer in ANSWERS.items():
        assert outputs[example] == answer, example
    assert outputs["files.py"]["o0"] == FILE_LINES

    # Every execution ran its python tasks as pods, labelled with the execution.
    listed = json.loads(succeeded(roost(env, "get", "executions", "-o", "json"), server))
    assert sorted(row["phase"] for row in listed) == ["SUCCEEDED"] * len(ARGUMENTS)
    pods = k8s_server.list_objects("pods", NAMESPACE)
    by_execution: dict[str, list[dict[str, Any]]] = {}
    for pod in pods:
        labels = pod["metadata"]["labels"]
        assert labels["project"] == "flytesnacks" and labels["domain"] == "development"
        by_execution.setdefault(labels["execution-id"], []).append(pod)
    names = {row["name"] for row in listed}
    assert names <= set(by_execution), f"executions without pods: {names - set(by_execution)}"
    assert all(pod["status"]["phase"] == "Succeeded" for pod in pods)
    assert {pod["spec"]["containers"][0]["image"] for pod in pods} == {IMAGE}
