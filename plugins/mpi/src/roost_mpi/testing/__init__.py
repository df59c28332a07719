"""roost-mpi's test kit.

- :class:`MPIOperator` (:mod:`roost_mpi.testing.operator`): a stand-in for the Training Operator's MPIJob
  controller on ``roost_k8s_pod.testing.KubeTestServer`` (needs ``roost-k8s-pod[testing]``).
- :mod:`roost_mpi.testing.conformance`: the conformance subject of both handlers, run by ``roost plugins check
  mpi`` and by the package's tests; its MPI tasks are in :mod:`roost_mpi.testing.tasks`.

The stand-in is imported on first use, so the tasks' ranks do not load the Kubernetes test server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from roost_core.lazy import lazy_exports

if TYPE_CHECKING:
    from roost_mpi.testing.operator import (
        JOB_NAME_LABEL,
        REPLICA_INDEX_LABEL,
        REPLICA_TYPE_LABEL,
        MPIOperator,
    )

__all__ = ["JOB_NAME_LABEL", "REPLICA_INDEX_LABEL", "REPLICA_TYPE_LABEL", "MPIOperator"]


__getattr__ = lazy_exports(__name__, dict.fromkeys(__all__, "roost_mpi.testing.operator"))
