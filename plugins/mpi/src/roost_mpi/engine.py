"""The engine side of roost-mpi (entry point ``roost.engine``): registers the ``mpi-local`` handler, the
default for ``mpi`` tasks (which nothing else runs).

Registering imports neither the handler nor its settings class; an engine that never runs an MPI task never
imports them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from roost_core.extend import RegisterHandler, TaskHandler, hookimpl

if TYPE_CHECKING:
    from roost_mpi.local import MPILocalSettings

__all__ = ["TASK_TYPES", "roost_task_handlers"]

TASK_TYPES = ("mpi",)
"""The task types the MPI handlers serve."""


def local_handler(settings: MPILocalSettings) -> TaskHandler:
    """The ``mpi-local`` handler, built with its settings."""
    from roost_mpi.local import MPILocalHandler

    return MPILocalHandler(settings)


@hookimpl
def roost_task_handlers(register: RegisterHandler) -> None:
    """``mpi-local``: the default handler of ``mpi`` tasks."""
    register(
        "mpi-local",
        local_handler,
        task_types=TASK_TYPES,
        default=True,
        settings="roost_mpi.local:MPILocalSettings",
    )
