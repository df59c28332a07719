"""The settings of ``mpi-kubernetes``, apart from the handler so that checking an engine's configuration
imports only them (not the handler and the Kubernetes client)."""

from __future__ import annotations

from typing import Literal

from roost_k8s_pod.settings import PodSettings

__all__ = ["MPIJobSettings"]


class MPIJobSettings(PodSettings):
    """The settings of ``mpi-kubernetes`` (``engine.handlers.mpi-kubernetes``): the shared ``kubernetes`` and
    ``task_environment`` sections, which it reads as the Pod handler does; the Pod handler's options for
    judging pods (``pod_pending_timeout``, the image pull and container error grace periods), applied to the
    launcher and worker pods while the MPIJob waits for them; and which MPIJob to make."""

    api_version: Literal["kubeflow.org/v1", "kubeflow.org/v2beta1"] = "kubeflow.org/v1"
    """``kubeflow.org/v1``: the Training Operator's MPIJob (what Flyte's MPI plugin creates);
    ``kubeflow.org/v2beta1``: the standalone MPI Operator's (launcher as a Job, workers running sshd)."""
