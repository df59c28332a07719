"""Fixtures: the Kubernetes API test server with its kubelet, a kubeconfig for it, and a Pod handler."""

from __future__ import annotations

import importlib.metadata
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from helpers import NAMESPACE, handler_config

import roost_k8s_pod.engine
from roost_core.testing.harness import build_handler
from roost_core.testing.virtualenv import cached_virtualenv, kept_folder, requirements_key
from roost_k8s_pod import PodHandler
from roost_k8s_pod.testing import KubeletOptions, KubeTestServer, SchemasNotFoundError
from roost_k8s_pod.testing.store import ResourceType


@pytest.fixture
def k8s_server(tmp_path: Path) -> Iterator[KubeTestServer]:
    """A running test server whose kubelet runs pods as local processes."""
    with KubeTestServer(
        kubelet=KubeletOptions(work_dir=tmp_path / "kubelet"), bookmark_interval=0.5
    ) as server:
        yield server


@pytest.fixture
def kubeconfig(k8s_server: KubeTestServer, tmp_path: Path) -> Path:
    """A kubeconfig for ``k8s_server``."""
    return k8s_server.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def require_crd(k8s_server: KubeTestServer) -> Callable[[str], ResourceType]:
    """Register a CRD from the schema folder, or skip the test (saying the CRD checks are skipped) without it."""

    def register(relative: str) -> ResourceType:
        try:
            return k8s_server.register_crd_file(relative)
        except SchemasNotFoundError as exc:
            pytest.skip(str(exc))

    return register


@pytest.fixture
def server(k8s_server: KubeTestServer) -> KubeTestServer:
    """The test server with the namespace the handler uses for project proj, domain dev."""
    k8s_server.create_namespace(NAMESPACE)
    return k8s_server


class PodHandlers:
    """Pod handlers built as the engine builds them (through the plugin's hook and settings), one per
    distinct section, closed together."""

    def __init__(self) -> None:
        self._built: dict[str, PodHandler] = {}
        self._others: list[PodHandler] = []

    def handler(self, section: Mapping[str, Any]) -> PodHandler:
        """The handler built with ``section`` as ``engine.handlers.k8s-pod``."""
        key = json.dumps(section, sort_keys=True, default=str)
        if key not in self._built:
            handler = build_handler([roost_k8s_pod.engine], "k8s-pod", section=section)
            assert isinstance(handler, PodHandler)
            self._built[key] = handler
        return self._built[key]

    def new(self, section: Mapping[str, Any]) -> PodHandler:
        """Another handler built with ``section`` (as a restarted engine builds it), closed with the rest."""
        handler = build_handler([roost_k8s_pod.engine], "k8s-pod", section=section)
        assert isinstance(handler, PodHandler)
        self._others.append(handler)
        return handler

    def close(self) -> None:
        for handler in [*self._built.values(), *self._others]:
            handler.close()


@pytest.fixture
def pods() -> Iterator[PodHandlers]:
    """Builds Pod handlers from sections; closes them after the test."""
    built = PodHandlers()
    try:
        yield built
    finally:
        built.close()


@pytest.fixture
def handler(pods: PodHandlers, kubeconfig: Path) -> PodHandler:
    """A Pod handler talking to the test server."""
    return pods.handler(handler_config(kubeconfig))


FLYTEKIT_REQUIREMENTS = ("flytekit==1.16.31", "flytekitplugins-pod==1.16.31")


@pytest.fixture(scope="session")
def flytekit_python(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The python of a virtualenv with flytekit 1.16.31, its Pod plugin and this kubernetes client, kept in
    pytest's cache folder between runs."""
    requirements = [*FLYTEKIT_REQUIREMENTS, f"kubernetes=={importlib.metadata.version('kubernetes')}"]
    name = f"flytekit-venv-{requirements_key(requirements)}"
    folder = kept_folder(pytestconfig, tmp_path_factory.mktemp, name)
    return str(cached_virtualenv(folder, requirements) / "bin" / "python")
