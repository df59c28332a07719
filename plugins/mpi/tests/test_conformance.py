"""Both MPI handlers pass the handler conformance suite (roost_core.testing.conformance), as the subjects the
package declares for `roost plugins check mpi` (roost_mpi.testing.conformance): ``mpi-local`` with this
machine's mpirun, and ``mpi-kubernetes`` against the Kubernetes API test server with the MPI operator stand-in
(whose launcher pod runs mpirun beside the worker pods). The example workflow's local and `roost start` runs are
test_examples.py's."""

from roost_mpi.testing.conformance import TestKubernetesMPIConformance, TestLocalMPIConformance

__all__ = ["TestKubernetesMPIConformance", "TestLocalMPIConformance"]
