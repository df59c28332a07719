"""The engine side of roost-mpi (entry point ``roost.engine``): registers the ``mpi-local`` handler, the
default for ``mpi`` tasks (which nothing else runs), and, when the ``kubernetes`` extra is installed
(``roost-k8s-pod``), the ``mpi-kubernetes`` handler, which configuration chooses
(``engine.default_for_task_types: {mpi: mpi-kubernetes}``).

Registering imports neither the handlers nor their settings classes (nor the Kubernetes client); an engine
that never runs an MPI task never imports them.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

from roost_core.extend import RegisterHandler, TaskHandler, hookimpl

if TYPE_CHECKING:
    from roost_mpi._kubernetes_settings import MPIJobSettings
    from roost_mpi.local import MPILocalSettings

__all__ = ["TASK_TYPES", "roost_task_handlers"]

TASK_TYPES = ("mpi",)
"""The task types the MPI handlers serve."""


def local_handler(settings: MPILocalSettings) -> TaskHandler:
    """The ``mpi-local`` handler, built with its settings."""
    from roost_mpi.local import MPILocalHandler

    return MPILocalHandler(settings)


def kubernetes_handler(settings: MPIJobSettings) -> TaskHandler:
    """The ``mpi-kubernetes`` handler, built with its settings."""
    from roost_mpi.kubernetes import MPIJobHandler

    return MPIJobHandler(settings)


@hookimpl
def roost_task_handlers(register: RegisterHandler) -> None:
    """``mpi-local``: the default handler of ``mpi`` tasks; ``mpi-kubernetes`` when roost-k8s-pod is installed."""
    register(
        "mpi-local",
        local_handler,
        task_types=TASK_TYPES,
        default=True,
        settings="roost_mpi.local:MPILocalSettings",
    )
    if importlib.util.find_spec("roost_k8s_pod") is not None:
        register(
            "mpi-kubernetes",
            kubernetes_handler,
            task_types=TASK_TYPES,
            settings="roost_mpi._kubernetes_settings:MPIJobSettings",
        )
