"""A stand-in for the Training Operator's MPIJob controller on ``roost_k8s_pod``'s Kubernetes API test server.

    with KubeTestServer(kubelet=True) as server:
        server.register_crd_file("training-operator/kubeflow.org_mpijobs.yaml")
        operator = MPIOperator(server)   # watches kubeflow.org/v1 MPIJobs from now on
        ...
        operator.close()

``mpirun`` is this Python environment's (``roost-mpi[local]``), unless given; the launcher's other
programs (``roost-execute``) come from the kubelet's ``PATH`` (``KubeletOptions.env``), as from an image.

It does what the operator's controller (``pkg/controller.v1/mpi``) does, in its order, each time the MPIJob or
one of its pods changes:

- a new MPIJob gets the ``Created`` condition (``MPIJobCreated``, "MPIJob ns/name is created.") and a
  ``startTime``; then its ConfigMap ``<name>-config`` (the hostfile, ``<name>-worker-<i> slots=<slots>`` per
  worker), its worker pods ``<name>-worker-<i>`` and its launcher pod ``<name>-launcher``, all owned by the
  MPIJob and labelled ``training.kubeflow.org/job-name``, ``training.kubeflow.org/replica-type``
  (``launcher``/``worker``) and, on workers, ``training.kubeflow.org/replica-index``, over their template's
  labels. A worker container without a command gets ``sleep 365d``, as the operator gives it;
- ``replicaStatuses``: the launcher's ``active``/``succeeded``/``failed``, the workers' running (``active``),
  ``succeeded`` and ``failed`` counts; ``Running`` (``MPIJobRunning``) once the launcher and every worker run;
- the launcher succeeding: ``Running`` turns false and ``Succeeded`` (``MPIJobSucceeded``) is added; failing:
  ``Failed`` (``MPIJobFailed``, "... has failed because 1 Launcher replica(s) failed."); a worker evicted:
  ``Failed`` (``MPIJobEvicted``, "1/2 workers are evicted"). Once finished, the run policy's
  ``cleanPodPolicy`` (``None`` by default, as the operator defaults it) says which pods are deleted;
- :meth:`MPIOperator.fail` reports a failure the operator finds by itself (a bad spec, the backoff limit), and
  deletes the launcher and workers;
- a deleted MPIJob takes its pods and ConfigMap with it (what owner references do on a cluster).

Not made: the launcher's ServiceAccount, Role and RoleBinding (the test server serves core ``v1`` kinds) and
the kubectl-delivery init container (the test kubelet runs no init containers).

With the test server's kubelet, the launcher pod's process is the task's ``mpirun`` command line with the flags
and transports this machine's Open MPI needs in place of the launcher's (which expect the operator's hostfile
and ``kubectl exec`` into the workers), so every rank runs on this machine, under the launcher; the worker
pods run as the operator makes them (``sleep``; their own command, sshd on a real cluster, is replaced by
that), so their scheduling, phases and deletion are real. ``run_locally=False`` keeps every command as given.
"""

from __future__ import annotations

import contextlib
import copy
import os
import queue
import shutil
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any

from roost_k8s_pod.testing import KubeTestServer
from roost_k8s_pod.testing.store import Event, now_rfc3339
from roost_mpi._launch import implementation, local_environment, local_flags
from roost_mpi.command import program_of
from roost_mpi.kubernetes import CONTAINER_NAME, LAUNCHER_SUFFIX, MPIJOB, WORKER_SUFFIX

__all__ = ["JOB_NAME_LABEL", "REPLICA_INDEX_LABEL", "REPLICA_TYPE_LABEL", "MPIOperator"]

JOB_NAME_LABEL = "training.kubeflow.org/job-name"
REPLICA_TYPE_LABEL = "training.kubeflow.org/replica-type"
REPLICA_INDEX_LABEL = "training.kubeflow.org/replica-index"
_OPERATOR_LABELS = {
    "training.kubeflow.org/operator-name": "mpijob-controller",
    "group-name": "kubeflow.org",
}
_PRIMARY = "primary_container_name"
_CONFIG_SUFFIX = "-config"


class MPIOperator:
    """The MPIJob controller stand-in; see the module docstring. ``run_locally=False`` keeps the pods' command
    lines as given (for servers without a kubelet, or tests that drive pods themselves)."""

    def __init__(self, server: KubeTestServer, *, run_locally: bool = True, mpirun: str = "") -> None:
        self.server = server
        self.run_locally = run_locally
        self.mpirun = mpirun or _local_mpirun()
        kind = implementation(self.mpirun)
        self._flags = local_flags(kind)
        self._environment = local_environment(kind, {})
        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._failed: set[tuple[str, str]] = set()
        server.store.add_listener(self._on_event)
        self._thread = threading.Thread(target=self._loop, name="roost-test-mpi-operator", daemon=True)
        self._thread.start()

    def fail(self, namespace: str, name: str, reason: str, message: str) -> None:
        """Report a failure the operator found by itself: a ``Failed`` condition, and the pods deleted."""
        self._queue.put(lambda: self._fail(namespace, name, reason, message))

    def close(self) -> None:
        """Stop watching."""
        self._queue.put(None)
        self._thread.join(10)

    # the controller

    def _on_event(self, event: Event) -> None:
        # Called under the store's lock: only queue the work.
        plural = event.rtype.plural
        metadata = event.obj.get("metadata") or {}
        where = (str(metadata.get("namespace")), str(metadata.get("name")))
        if plural == MPIJOB.plural and event.rtype.group == MPIJOB.group:
            if event.type == "ADDED":
                self._queue.put(lambda: self._created(*where))
            elif event.type == "DELETED":
                self._queue.put(lambda: self._deleted(*where))
        elif plural == "pods" and event.rtype.group == "":
            job = (metadata.get("labels") or {}).get(JOB_NAME_LABEL)
            if job:
                self._queue.put(lambda: self._reconcile(where[0], str(job)))

    def _loop(self) -> None:
        while True:
            work = self._queue.get()
            if work is None:
                return
            with contextlib.suppress(Exception):  # a job deleted meanwhile, a server stopping
                work()

    def _created(self, namespace: str, name: str) -> None:
        job = self.server.get(MPIJOB.plural, namespace, name)
        if job is None:
            return
        message = f"MPIJob {namespace}/{name} is created."
        self._set(namespace, name, lambda status: _condition(status, "Created", "MPIJobCreated", message))
        workers = _worker_count(job)
        slots = int(job["spec"].get("slotsPerWorker") or 1)
        hostfile = "".join(f"{name}{WORKER_SUFFIX}{i} slots={slots}\n" for i in range(workers))
        self.server.create(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": f"{name}{_CONFIG_SUFFIX}",
                    "namespace": namespace,
                    "labels": {"app": name},
                    "ownerReferences": [_owner(job)],
                },
                "data": {"hostfile": hostfile},
            }
        )
        for index in range(workers):
            self.server.create(self._worker_pod(job, index))
        self.server.create(self._launcher_pod(job))

    def _pod(
        self, job: Mapping[str, Any], replica: str, name: str, labels: Mapping[str, str]
    ) -> dict[str, Any]:
        namespace, job_name = _where(job)
        group = job["spec"]["mpiReplicaSpecs"][replica]
        template = copy.deepcopy(group.get("template") or {})
        spec = dict(template.get("spec") or {})
        # The test kubelet runs every pod once; the replica's restart policy is the operator's to apply.
        spec["restartPolicy"] = "Never" if group.get("restartPolicy", "Never") == "Never" else "OnFailure"
        metadata = dict(template.get("metadata") or {})
        metadata.update(
            {
                "name": name,
                "namespace": namespace,
                "labels": {
                    **(metadata.get("labels") or {}),
                    **_OPERATOR_LABELS,
                    JOB_NAME_LABEL: job_name,
                    "mpi-job-name": job_name,
                    **labels,
                },
                "annotations": {**(metadata.get("annotations") or {}), _PRIMARY: CONTAINER_NAME},
                "ownerReferences": [_owner(job)],
            }
        )
        return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}

    def _worker_pod(self, job: Mapping[str, Any], index: int) -> dict[str, Any]:
        name = f"{_where(job)[1]}{WORKER_SUFFIX}{index}"
        pod = self._pod(job, "Worker", name, {REPLICA_TYPE_LABEL: "worker", REPLICA_INDEX_LABEL: str(index)})
        containers = pod["spec"].get("containers") or []
        if containers:
            first = dict(containers[0])
            if self.run_locally or not first.get("command"):
                # What the operator runs in a worker without a command; here also in place of its sshd.
                first["command"], first["args"] = ["sleep"], ["365d"]
            pod["spec"]["containers"] = [first, *containers[1:]]
        return pod

    def _launcher_pod(self, job: Mapping[str, Any]) -> dict[str, Any]:
        name = f"{_where(job)[1]}{LAUNCHER_SUFFIX}"
        pod = self._pod(job, "Launcher", name, {REPLICA_TYPE_LABEL: "launcher"})
        if self.run_locally:
            pod["spec"]["containers"] = [
                self._local(c) if c.get("name") == CONTAINER_NAME else c for c in pod["spec"]["containers"]
            ]
        return pod

    def _local(self, container: Mapping[str, Any]) -> dict[str, Any]:
        """The launcher container with this machine's mpirun, its flags and its transports."""
        argv = [*(container.get("command") or []), *(container.get("args") or [])]
        ranks = next((argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == "-np"), "1")
        local = dict(container)
        local["command"] = [self.mpirun, *self._flags, "-np", ranks, *program_of(argv)]
        local.pop("args", None)
        env = list(local.get("env") or [])
        named = {entry.get("name") for entry in env}
        env += [{"name": k, "value": v} for k, v in self._environment.items() if k not in named]
        local["env"] = env
        return local

    def _reconcile(self, namespace: str, name: str) -> None:
        """The MPIJob's status from its pods, as the operator's ``updateMPIJobStatus`` computes it."""
        job = self.server.get(MPIJOB.plural, namespace, name)
        if job is None or (namespace, name) in self._failed or _finished(job):
            return
        pods = {p["metadata"]["name"]: p for p in self._job_pods(namespace, name)}
        launcher = pods.get(f"{name}{LAUNCHER_SUFFIX}")
        workers = [pods.get(f"{name}{WORKER_SUFFIX}{i}") for i in range(_worker_count(job))]
        worker_phases = [_phase(w) for w in workers]
        launcher_phase = _phase(launcher)
        where = f"MPIJob {namespace}/{name}"
        replicas: dict[str, dict[str, int]] = {
            "Launcher": {},
            "Worker": {
                key: count
                for key, phase in (("active", "Running"), ("succeeded", "Succeeded"), ("failed", "Failed"))
                if (count := worker_phases.count(phase))
            },
        }
        evicted = sum(
            1 for w in workers if w is not None and (w.get("status") or {}).get("reason") == "Evicted"
        )
        done = False

        def change(status: dict[str, Any]) -> None:
            nonlocal done
            if launcher_phase == "Succeeded":
                replicas["Launcher"] = {"succeeded": 1}
                _condition(status, "Running", "MPIJobRunning", f"{where} is running.", value="False")
                _condition(status, "Succeeded", "MPIJobSucceeded", f"{where} successfully completed.")
                done = True
            elif launcher_phase == "Failed":
                replicas["Launcher"] = {"failed": 1}
                _condition(status, "Running", "MPIJobRunning", f"{where} is running.", value="False")
                message = f"{where} has failed because 1 Launcher replica(s) failed."
                _condition(status, "Failed", "MPIJobFailed", message)
                done = True
            elif evicted:
                _condition(status, "Running", "MPIJobRunning", f"{where} is running.", value="False")
                _condition(status, "Failed", "MPIJobEvicted", f"{evicted}/{len(workers)} workers are evicted")
                done = True
            elif launcher_phase == "Running":
                replicas["Launcher"] = {"active": 1}
                if all(phase == "Running" for phase in worker_phases):
                    _condition(status, "Running", "MPIJobRunning", f"{where} is running.")
            status["replicaStatuses"] = replicas
            if done:
                status["completionTime"] = now_rfc3339()

        self._set(namespace, name, change)
        if done:
            self._clean_pods(job)

    def _clean_pods(self, job: Mapping[str, Any]) -> None:
        """Delete what the run policy's ``cleanPodPolicy`` says once the job finished (``None``: nothing)."""
        policy = ((job["spec"].get("runPolicy") or {}).get("cleanPodPolicy")) or "None"
        if policy == "None":
            return
        for pod in self._job_pods(*_where(job)):
            if policy == "All" or _phase(pod) in ("Running", "Pending"):
                self._delete_pod(pod)

    def _fail(self, namespace: str, name: str, reason: str, message: str) -> None:
        self._failed.add((namespace, name))

        def failed(status: dict[str, Any]) -> None:
            _condition(status, "Running", "MPIJobRunning", "", value="False")
            _condition(status, "Failed", reason, message)
            status["completionTime"] = now_rfc3339()

        self._set(namespace, name, failed)
        for pod in self._job_pods(namespace, name):
            self._delete_pod(pod)

    def _deleted(self, namespace: str, name: str) -> None:
        self._failed.discard((namespace, name))
        for pod in self._job_pods(namespace, name):
            self._delete_pod(pod)
        with contextlib.suppress(Exception):
            self.server.api.delete(self._type("configmaps"), namespace, f"{name}{_CONFIG_SUFFIX}")

    def _job_pods(self, namespace: str, name: str) -> list[dict[str, Any]]:
        pods = self.server.store.list_objects(self._type("pods"), namespace)[0]
        return [p for p in pods if (p["metadata"].get("labels") or {}).get(JOB_NAME_LABEL) == name]

    def _delete_pod(self, pod: Mapping[str, Any]) -> None:
        with contextlib.suppress(Exception):
            self.server.api.delete(self._type("pods"), pod["metadata"]["namespace"], pod["metadata"]["name"])

    def _type(self, plural: str) -> Any:
        return next(t for t in self.server.api.types() if t.group == "" and t.plural == plural)

    def _set(self, namespace: str, name: str, change: Callable[[dict[str, Any]], None]) -> None:
        job = self.server.get(MPIJOB.plural, namespace, name)
        if job is None:
            return
        status: dict[str, Any] = copy.deepcopy(dict(job.get("status") or {}))
        status.setdefault("conditions", [])
        status.setdefault("replicaStatuses", {"Launcher": {}, "Worker": {}})
        status.setdefault("startTime", now_rfc3339())
        change(status)
        if status != job.get("status"):
            self.server.set_status(MPIJOB.plural, namespace, name, status)


def _local_mpirun() -> str:
    """``mpirun`` of this Python's environment, else of ``PATH``."""
    here = os.path.dirname(sys.executable)
    return shutil.which("mpirun", path=os.pathsep.join([here, os.environ.get("PATH", "")])) or "mpirun"


def _where(job: Mapping[str, Any]) -> tuple[str, str]:
    return str(job["metadata"]["namespace"]), str(job["metadata"]["name"])


def _owner(job: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": MPIJOB.api_version,
        "kind": MPIJOB.kind,
        "name": job["metadata"]["name"],
        "uid": job["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _worker_count(job: Mapping[str, Any]) -> int:
    worker = job["spec"]["mpiReplicaSpecs"].get("Worker") or {}
    return int(worker.get("replicas", 1)) if worker else 0


def _phase(pod: Mapping[str, Any] | None) -> str:
    return str(((pod or {}).get("status") or {}).get("phase") or ("Pending" if pod else ""))


def _finished(job: Mapping[str, Any]) -> bool:
    conditions = (job.get("status") or {}).get("conditions") or []
    return any(c.get("type") in ("Succeeded", "Failed") and c.get("status") == "True" for c in conditions)


def _condition(status: dict[str, Any], kind: str, reason: str, message: str, *, value: str = "True") -> None:
    """Set a condition as the operator does: one of that type already so is left alone, a change replaces it
    (at the end, with a new transition time), and a false one is only written over an existing one."""
    old = next((c for c in status["conditions"] if c.get("type") == kind), None)
    if (old is None and value == "False") or (old is not None and old.get("status") == value):
        return
    now = now_rfc3339()
    conditions = [c for c in status["conditions"] if c.get("type") != kind]
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
