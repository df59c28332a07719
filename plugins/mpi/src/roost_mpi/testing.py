"""A stand-in for the Training Operator's MPIJob controller on ``roost_k8s_pod``'s Kubernetes API test server.

    with KubeTestServer(kubelet=True) as server:
        server.register_crd_file("training-operator/kubeflow.org_mpijobs.yaml")
        operator = MPIOperator(server)   # watches kubeflow.org/v1 MPIJobs from now on
        ...
        operator.close()

``mpirun`` is this Python environment's (``roost-mpi[local]``), unless given; the launcher's other
programs (``roost-execute``) come from the kubelet's ``PATH`` (``KubeletOptions.env``), as from an image.

It moves each MPIJob's status the way the operator does (conditions with their reasons and messages, replica
statuses, start and completion times):

- a new MPIJob gets ``Created`` (``MPIJobCreated``) and its launcher pod ``<name>-launcher`` (labels
  ``training.kubeflow.org/job-name`` and ``training.kubeflow.org/replica-type: launcher``);
- the launcher running adds ``Running`` (``MPIJobRunning``), ``Launcher.active``;
- the launcher succeeding: ``Running`` turns false and ``Succeeded`` (``MPIJobSucceeded``) is added; failing:
  ``Failed`` (``MPIJobFailed``, "... has failed because 1 Launcher replica(s) failed.");
- :meth:`MPIOperator.fail` reports a failure the operator finds by itself (a bad spec, the backoff limit);
- a deleted MPIJob takes its launcher pod with it (what owner references do on a cluster).

With the test server's kubelet, the launcher pod's process is the task's ``mpirun`` command line with the flags
this machine's Open MPI needs in place of the launcher's (which expect the operator's hostfile and ssh), so every
rank runs here. Worker pods are not made: on one machine ``mpirun`` starts the ranks itself (their pods would
only hold sshd on a cluster).
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any

from roost_k8s_pod.testing import KubeTestServer
from roost_k8s_pod.testing.store import Event, now_rfc3339
from roost_mpi._launch import implementation, local_flags
from roost_mpi.command import program_of
from roost_mpi.kubernetes import CONTAINER_NAME, MPIJOB

__all__ = ["JOB_NAME_LABEL", "REPLICA_TYPE_LABEL", "MPIOperator"]

JOB_NAME_LABEL = "training.kubeflow.org/job-name"
REPLICA_TYPE_LABEL = "training.kubeflow.org/replica-type"
_PRIMARY = "primary_container_name"


class MPIOperator:
    """The MPIJob controller stand-in; see the module docstring. ``run_locally=False`` keeps the launcher's
    command line as given (for servers without a kubelet, or tests that drive pods themselves)."""

    def __init__(self, server: KubeTestServer, *, run_locally: bool = True, mpirun: str = "") -> None:
        self.server = server
        self.run_locally = run_locally
        self.mpirun = mpirun or _local_mpirun()
        self._flags = local_flags(implementation(self.mpirun))
        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue()
        server.store.add_listener(self._on_event)
        self._thread = threading.Thread(target=self._loop, name="roost-test-mpi-operator", daemon=True)
        self._thread.start()

    def fail(self, namespace: str, name: str, reason: str, message: str) -> None:
        """Report a failure the operator found by itself: a ``Failed`` condition, and the launcher deleted."""
        self._queue.put(lambda: self._fail(namespace, name, reason, message))

    def close(self) -> None:
        """Stop watching."""
        self._queue.put(None)
        self._thread.join(10)

    # the controller

    def _on_event(self, event: Event) -> None:
        # Called under the store's lock: only queue the work.
        plural = event.rtype.plural
        if plural == MPIJOB.plural and event.rtype.group == MPIJOB.group:
            if event.type == "ADDED":
                self._queue.put(lambda: self._created(event.obj))
            elif event.type == "DELETED":
                self._queue.put(lambda: self._deleted(event.obj))
        elif plural == "pods" and event.rtype.group == "" and event.type == "MODIFIED":
            labels = (event.obj.get("metadata") or {}).get("labels") or {}
            if labels.get(REPLICA_TYPE_LABEL) == "launcher" and JOB_NAME_LABEL in labels:
                self._queue.put(lambda: self._launcher_changed(event.obj))

    def _loop(self) -> None:
        while True:
            work = self._queue.get()
            if work is None:
                return
            with contextlib.suppress(Exception):  # a job deleted meanwhile, a server stopping
                work()

    def _created(self, job: Mapping[str, Any]) -> None:
        namespace, name = _where(job)
        self._set(
            namespace,
            name,
            lambda status: _condition(
                status, "Created", "MPIJobCreated", f"MPIJob {namespace}/{name} is created."
            ),
            start=True,
        )
        self.server.create(self._launcher_pod(job))

    def _launcher_pod(self, job: Mapping[str, Any]) -> dict[str, Any]:
        namespace, name = _where(job)
        launcher = job["spec"]["mpiReplicaSpecs"]["Launcher"]
        template = launcher.get("template") or {}
        spec = dict(template.get("spec") or {})
        spec["restartPolicy"] = "Never" if launcher.get("restartPolicy", "Never") == "Never" else "OnFailure"
        if self.run_locally:
            spec["containers"] = [
                self._local(c) if c.get("name") == CONTAINER_NAME else c for c in spec["containers"]
            ]
        metadata = dict(template.get("metadata") or {})
        metadata.update(
            {
                "name": f"{name}-launcher",
                "namespace": namespace,
                "labels": {
                    **(metadata.get("labels") or {}),
                    JOB_NAME_LABEL: name,
                    REPLICA_TYPE_LABEL: "launcher",
                },
                "annotations": {**(metadata.get("annotations") or {}), _PRIMARY: CONTAINER_NAME},
                "ownerReferences": [
                    {
                        "apiVersion": MPIJOB.api_version,
                        "kind": MPIJOB.kind,
                        "name": name,
                        "uid": job["metadata"]["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            }
        )
        return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}

    def _local(self, container: Mapping[str, Any]) -> dict[str, Any]:
        """The launcher container with this machine's mpirun and its flags."""
        argv = [*(container.get("command") or []), *(container.get("args") or [])]
        ranks = next((argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == "-np"), "1")
        local = dict(container)
        local["command"] = [self.mpirun, *self._flags, "-np", ranks, *program_of(argv)]
        local.pop("args", None)
        return local

    def _launcher_changed(self, pod: Mapping[str, Any]) -> None:
        namespace = str(pod["metadata"]["namespace"])
        name = str(pod["metadata"]["labels"][JOB_NAME_LABEL])
        phase = (pod.get("status") or {}).get("phase")
        where = f"MPIJob {namespace}/{name}"
        if phase == "Running":
            self._set(
                namespace,
                name,
                lambda status: _condition(status, "Running", "MPIJobRunning", f"{where} is running."),
                launcher={"active": 1},
            )
        elif phase == "Succeeded":

            def succeeded(status: dict[str, Any]) -> None:
                _condition(status, "Running", "MPIJobRunning", f"{where} is running.", value="False")
                _condition(status, "Succeeded", "MPIJobSucceeded", f"{where} successfully completed.")

            self._set(namespace, name, succeeded, launcher={"succeeded": 1}, done=True)
        elif phase == "Failed":

            def failed(status: dict[str, Any]) -> None:
                _condition(status, "Running", "MPIJobRunning", f"{where} is running.", value="False")
                _condition(
                    status,
                    "Failed",
                    "MPIJobFailed",
                    f"{where} has failed because 1 Launcher replica(s) failed.",
                )

            self._set(namespace, name, failed, launcher={"failed": 1}, done=True)

    def _fail(self, namespace: str, name: str, reason: str, message: str) -> None:
        def failed(status: dict[str, Any]) -> None:
            _condition(status, "Running", "MPIJobRunning", "", value="False")
            _condition(status, "Failed", reason, message)

        self._set(namespace, name, failed, done=True)
        self._delete_launcher(namespace, name)

    def _deleted(self, job: Mapping[str, Any]) -> None:
        self._delete_launcher(*_where(job))

    def _delete_launcher(self, namespace: str, name: str) -> None:
        pods = self.server.store.list_objects(self._pods(), namespace)[0]
        for pod in pods:
            if (pod["metadata"].get("labels") or {}).get(JOB_NAME_LABEL) == name:
                with contextlib.suppress(Exception):
                    self.server.api.delete(self._pods(), namespace, pod["metadata"]["name"])

    def _pods(self) -> Any:
        return next(t for t in self.server.api.types() if t.group == "" and t.plural == "pods")

    def _set(
        self,
        namespace: str,
        name: str,
        change: Callable[[dict[str, Any]], None],
        *,
        launcher: Mapping[str, int] | None = None,
        start: bool = False,
        done: bool = False,
    ) -> None:
        job = self.server.get(MPIJOB.plural, namespace, name)
        if job is None:
            return
        status: dict[str, Any] = dict(job.get("status") or {})
        status.setdefault("conditions", [])
        replicas = status.setdefault("replicaStatuses", {"Launcher": {}, "Worker": {}})
        if launcher is not None:
            replicas["Launcher"] = dict(launcher)
        if start:
            status.setdefault("startTime", now_rfc3339())
        if done:
            status["completionTime"] = now_rfc3339()
        change(status)
        self.server.set_status(MPIJOB.plural, namespace, name, status)


def _local_mpirun() -> str:
    """``mpirun`` of this Python's environment, else of ``PATH``."""
    here = os.path.dirname(sys.executable)
    return shutil.which("mpirun", path=os.pathsep.join([here, os.environ.get("PATH", "")])) or "mpirun"


def _where(job: Mapping[str, Any]) -> tuple[str, str]:
    return str(job["metadata"]["namespace"]), str(job["metadata"]["name"])


def _condition(status: dict[str, Any], kind: str, reason: str, message: str, *, value: str = "True") -> None:
    """Set a condition as the operator does: an existing one of that type is replaced, others stay."""
    now = now_rfc3339()
    conditions = [c for c in status["conditions"] if c.get("type") != kind]
    old = next((c for c in status["conditions"] if c.get("type") == kind), None)
    if old is not None and old.get("status") == value and value == "False":
        return
    conditions.append(
        {
            "type": kind,
            "status": value,
            "reason": reason,
            "message": message or (old or {}).get("message", ""),
            "lastUpdateTime": now,
            "lastTransitionTime": now,
        }
    )
    status["conditions"] = conditions
