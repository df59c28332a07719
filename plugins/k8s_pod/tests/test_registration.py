"""Loading the plugin is light: no Kubernetes client until a handler talks to a cluster."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import roost_k8s_pod
import roost_k8s_pod.engine
from roost_core.engine import EngineConfig
from roost_core.plugins import EnginePlugins
from roost_core.testing.driver import WAIT_SECONDS


def test_installing_the_plugin_keeps_python_tasks_on_local_process_until_configured():
    plugins = EnginePlugins([roost_k8s_pod.engine], entry_points=False)
    installed = plugins.handlers()
    for task_type in ("python-task", "container", "raw-container"):
        assert installed.for_task_type(task_type).name == "local-process"
    for task_type in ("sidecar", "pod"):
        assert installed.for_task_type(task_type).name == "k8s-pod"
    chosen = plugins.handlers(
        EngineConfig(
            default_for_task_types=dict.fromkeys(("python-task", "container", "raw-container"), "k8s-pod")
        )
    )
    for task_type in ("python-task", "container", "raw-container", "sidecar", "pod"):
        assert chosen.for_task_type(task_type).name == "k8s-pod"


def test_importing_and_registering_imports_no_kubernetes_client():
    script = textwrap.dedent(
        """
        import sys
        import roost_k8s_pod
        from roost_core.plugins import EnginePlugins
        import roost_k8s_pod.engine
        EnginePlugins([roost_k8s_pod.engine], entry_points=False).handler_registrations()
        roost_k8s_pod.PodHandler, roost_k8s_pod.K8sResourceHandler
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("kubernetes", "yaml", "urllib3", "kubernetes_validate")))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=WAIT_SECONDS, check=True
    )
    assert result.stdout.strip() == "[]"


def test_unknown_names_are_an_attribute_error():
    assert roost_k8s_pod.PodHandler.name == "k8s-pod"
    with pytest.raises(AttributeError, match=r"^module 'roost_k8s_pod' has no attribute 'Nope'$"):
        roost_k8s_pod.Nope  # noqa: B018
