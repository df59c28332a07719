"""roost-k8s-pod's pytest plugin (entry point ``pytest11``): the ``kube_test_server`` fixture.

The server is imported when the fixture is used, so that installing roost-k8s-pod without its ``testing``
extra does not break an unrelated pytest session.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from roost_k8s_pod.testing import KubeTestServer


@pytest.fixture
def kube_test_server(tmp_path: Path) -> Iterator[KubeTestServer]:
    """A running Kubernetes API test server whose kubelet runs pods as local processes; its kubeconfig is
    ``tmp_path / "kubeconfig"``."""
    from roost_k8s_pod.testing import KubeletOptions, KubeTestServer

    with KubeTestServer(
        kubelet=KubeletOptions(work_dir=tmp_path / "kubelet"), bookmark_interval=0.5
    ) as server:
        server.write_kubeconfig(tmp_path / "kubeconfig")
        yield server
