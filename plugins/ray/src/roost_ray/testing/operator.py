"""A stand-in for KubeRay's RayJob and RayCluster controllers on ``roost_k8s_pod``'s Kubernetes API test server.

    with KubeTestServer(kubelet=KubeletOptions(env={"PATH": ...})) as server:
        operator = KubeRayOperator(server).start()   # serves the RayJob and RayCluster CRDs, reconciles them
        ...
        operator.close()                             # stops every Ray head it started

It moves each ``ray.io/v1`` RayJob through KubeRay's states, in KubeRay's order (``K8sJobMode``, the default):

- a new RayJob gets ``jobDeploymentStatus: Initializing``, ``jobStatus: ""`` (KubeRay's ``New``), a ``jobId``
  (``<name>-<5 characters>``), a ``rayClusterName`` (``<name>-raycluster-<5 characters>``) and ``startTime``, and
  its RayCluster is created from ``rayClusterSpec`` (labels ``ray.io/originated-from-cr-name`` and
  ``ray.io/originated-from-crd: RayJob``, owned by the RayJob);
- the RayCluster's head pod (``<cluster>-head``, labels ``ray.io/cluster``, ``ray.io/node-type: head``) is created;
  once it runs and its dashboard answers, the RayCluster is ``ready`` (with ``head`` and ``endpoints``), the RayJob
  gets ``dashboardURL``, its submitter (the pod of the Kubernetes Job KubeRay makes, ``job-name: <name>``) is
  created with KubeRay's command (``ray job status`` / ``ray job submit --no-wait`` / ``ray job logs --follow``
  against the dashboard, ``RAY_DASHBOARD_ADDRESS`` and ``RAY_JOB_SUBMISSION_ID`` in its environment), and the
  RayJob turns ``Running``;
- while it runs, ``jobStatus``, ``message`` and ``rayJobInfo`` come from the Ray dashboard's job API; when the Ray
  job is terminal and the submitter has finished, the RayJob is ``Complete``, or ``Failed`` with reason
  ``AppFailed`` for a ``FAILED`` job (``endTime`` set);
- a submitter that fails ``submitterConfig.backoffLimit`` + 1 times (default 2 + 1) fails the RayJob: reason
  ``AppFailed`` when the Ray job failed, else ``SubmissionFailed`` with KubeRay's message ("Job submission has
  failed. Reason: BackoffLimitExceeded. Message: Job has reached the specified backoff limit");
  :meth:`KubeRayOperator.fail_submission` makes a RayJob's submitters fail (what a dashboard that cannot be
  reached does);
- ``activeDeadlineSeconds`` passed: ``Failed``, reason ``DeadlineExceeded``;
- a finished RayJob with ``shutdownAfterJobFinishes`` has its RayCluster deleted ``ttlSecondsAfterFinished``
  after ``endTime``; a deleted RayJob has its Ray job stopped (KubeRay's finalizer) and its RayCluster and
  submitter pods deleted (the garbage collector's work on a cluster).

With the test server's kubelet, the head pod's process is a real local Ray head: ``ray start --head --block`` (this
environment's ``ray``, unless given) on free loopback ports, with KubeRay's resource rules (``--num-cpus`` from the
head container's CPU limit, else request; ``--memory`` from its memory limit) and the group's ``num-gpus`` and
``resources`` start parameters. Worker pods are not made: on one machine the head offers the worker groups' CPUs
itself, at most ``max_cpus`` in all. The Ray job's entrypoint (the task's command) runs on that head as Ray's job
supervisor runs it, with the head pod's environment (the task's). A deleted head pod takes every process of its
container with it, as a container runtime does (the kubelet signals the process group; the stand-in then ends the
rest of the container's session, Ray's workers included).

The test server serves no ``batch/v1`` Jobs, so the stand-in plays the Job controller too: it creates the
submitter pods itself (owned by the RayJob) and counts their failures against the backoff limit.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import random
import shlex
import shutil
import string
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from roost_k8s_pod.testing import KubeTestServer
from roost_k8s_pod.testing.api import PODS
from roost_k8s_pod.testing.store import Event, ResourceType, now_rfc3339
from roost_ray.runtime import (
    MIN_OBJECT_STORE_MEMORY,
    PASSED_START_PARAMS,
    kill_session,
    parse_cpu,
    parse_memory,
)

__all__ = [
    "CLUSTER_LABEL",
    "RAYCLUSTER_CRD_FILE",
    "RAYJOB_CRD_FILE",
    "KubeRayOperator",
]

log = logging.getLogger(__name__)

RAYJOB_CRD_FILE = "kuberay/ray.io_rayjobs.yaml"
"""The RayJob CRD in the schema folder (``ROOST_K8S_SCHEMAS``)."""
RAYCLUSTER_CRD_FILE = "kuberay/ray.io_rayclusters.yaml"
"""The RayCluster CRD in the schema folder."""
CLUSTER_LABEL = "ray.io/cluster"
NODE_TYPE_LABEL = "ray.io/node-type"
GROUP_LABEL = "ray.io/group"
ORIGIN_NAME_LABEL = "ray.io/originated-from-cr-name"
ORIGIN_CRD_LABEL = "ray.io/originated-from-crd"
JOB_NAME_LABEL = "job-name"
TERMINAL_JOB_STATUSES = ("SUCCEEDED", "FAILED", "STOPPED")
_TICK = 0.5
"""Seconds between reconciles of every RayJob (KubeRay requeues every 3 s; a test wants it sooner)."""
_PROBE_TIMEOUT = 2.0


@dataclass
class _Head:
    """A head pod this stand-in made: where its Ray listens, and the session of its container's processes."""

    namespace: str
    pod: str
    gcs_port: int
    dashboard_port: int
    temp_dir: Path
    session: int | None = None

    @property
    def dashboard(self) -> str:
        return f"127.0.0.1:{self.dashboard_port}"


class KubeRayOperator:
    """Reconciles the test server's RayJobs and RayClusters; see the module docstring.

    ``run_locally=False`` leaves the head pod's command as given (a server without a kubelet; tests that drive
    pods themselves). ``ray`` is the ``ray`` command heads and submitters run; ``max_cpus`` bounds a head's CPUs.
    """

    def __init__(
        self, server: KubeTestServer, *, run_locally: bool = True, ray: str = "", max_cpus: int = 2
    ) -> None:
        self.server = server
        self.run_locally = run_locally
        self.ray = ray or _local_ray()
        self.max_cpus = max_cpus
        self._jobs: ResourceType | None = None
        self._clusters: ResourceType | None = None
        self._heads: dict[tuple[str, str], _Head] = {}
        self._failing: dict[str, str] = {}
        self._queue: queue.Queue[Event | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def start(self) -> KubeRayOperator:
        """Serve both CRDs (``SchemasNotFoundError`` when the schema folder is absent) and start reconciling."""
        self._jobs = self.server.register_crd_file(RAYJOB_CRD_FILE)
        self._clusters = self.server.register_crd_file(RAYCLUSTER_CRD_FILE)
        self.server.store.add_listener(self._on_event)
        self._thread = threading.Thread(target=self._loop, name="kuberay-operator-stand-in", daemon=True)
        self._thread.start()
        return self

    def fail_submission(self, name: str, message: str = "could not reach the Ray dashboard") -> None:
        """Make every submitter pod of the RayJob ``name`` fail (printing ``message``), as when the dashboard
        cannot be reached: after the backoff limit, KubeRay fails the RayJob with ``SubmissionFailed``."""
        self._failing[name] = message

    def close(self) -> None:
        """Stop reconciling and stop every Ray head this stand-in started."""
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(10)
        for head in list(self._heads.values()):
            self._end_head(head)

    # reconciling

    def _on_event(self, event: Event) -> None:
        # Called under the store's lock: hand the work to the operator's thread.
        self._queue.put(event)

    def _loop(self) -> None:
        while True:
            try:
                event: Event | None = self._queue.get(timeout=_TICK)
            except queue.Empty:
                event = None  # time to requeue every RayJob
            else:
                if event is None:
                    return
            try:
                if event is not None and event.type == "DELETED":
                    self._deleted(event)
                else:
                    self._reconcile_all()
            except Exception:  # a stand-in must keep going, as the real operator does
                log.exception("KubeRay stand-in: reconciling failed")

    def _deleted(self, event: Event) -> None:
        metadata = event.obj.get("metadata") or {}
        namespace, name = str(metadata.get("namespace", "")), str(metadata.get("name", ""))
        if event.rtype == self._jobs:
            status = event.obj.get("status") or {}
            head = self._heads.get((namespace, str(status.get("rayClusterName", ""))))
            if (
                head is not None
                and status.get("jobId")
                and status.get("jobStatus") not in TERMINAL_JOB_STATUSES
            ):
                _stop_job(head.dashboard, str(status["jobId"]))  # KubeRay's finalizer
            self._delete_owned(namespace, name)
        elif event.rtype == self._clusters:
            self._delete_owned(namespace, name)
        elif event.rtype == PODS:
            for head in list(self._heads.values()):
                if (head.namespace, head.pod) == (namespace, name):
                    head.session = head.session or _session_of(event.obj)
                    self._end_head(head)

    def _reconcile_all(self) -> None:
        assert self._jobs is not None and self._clusters is not None
        for cluster in self.server.store.list_objects(self._clusters, None)[0]:
            self._reconcile_cluster(cluster)
        for job in self.server.store.list_objects(self._jobs, None)[0]:
            if "deletionTimestamp" not in job["metadata"]:
                self._reconcile_job(job)

    # the RayJob controller

    def _reconcile_job(self, job: Mapping[str, Any]) -> None:
        namespace, name = _where(job)
        status: dict[str, Any] = dict(job.get("status") or {})
        before = dict(status)
        deployment = status.get("jobDeploymentStatus", "")
        spec = job.get("spec") or {}
        if deployment == "":
            status.update(
                {
                    "jobDeploymentStatus": "Initializing",
                    "jobStatus": "",
                    "jobId": spec.get("jobId") or f"{name}-{_suffix()}",
                    "rayClusterName": f"{name}-raycluster-{_suffix()}",
                    "startTime": now_rfc3339(),
                }
            )
        elif deployment == "Initializing":
            if not self._deadline_passed(spec, status):
                self._initializing(job, status)
        elif deployment == "Running":
            if not self._deadline_passed(spec, status):
                self._running(job, status)
        elif deployment in ("Complete", "Failed"):
            self._finished(job, status)
        if status != before:
            if status.get("jobDeploymentStatus") in ("Complete", "Failed") and before.get(
                "jobDeploymentStatus"
            ) not in ("Complete", "Failed"):
                status["endTime"] = now_rfc3339()
                succeeded = (
                    status["jobDeploymentStatus"] == "Complete" and status.get("jobStatus") == "SUCCEEDED"
                )
                status["succeeded" if succeeded else "failed"] = 1
            self.server.set_status(self._plural(self._jobs), namespace, name, status)

    def _deadline_passed(self, spec: Mapping[str, Any], status: dict[str, Any]) -> bool:
        deadline = spec.get("activeDeadlineSeconds")
        if deadline is None or time.time() < _seconds(str(status["startTime"])) + int(deadline):
            return False
        status.update(
            {
                "jobDeploymentStatus": "Failed",
                "reason": "DeadlineExceeded",
                "message": (
                    f"The RayJob has passed the activeDeadlineSeconds. StartTime: {status['startTime']}. "
                    f"ActiveDeadlineSeconds: {deadline}"
                ),
            }
        )
        return True

    def _initializing(self, job: Mapping[str, Any], status: dict[str, Any]) -> None:
        namespace, name = _where(job)
        cluster_name = str(status["rayClusterName"])
        cluster = self.server.get(self._plural(self._clusters), namespace, cluster_name)
        if cluster is None:
            self.server.create(self._cluster_for(job, cluster_name))
            return
        if not status.get("dashboardURL"):
            if (cluster.get("status") or {}).get("state") != "ready":
                return
            head = self._heads.get((namespace, cluster_name))
            status["dashboardURL"] = (
                head.dashboard
                if head is not None
                else f"{cluster_name}-head-svc.{namespace}.svc.cluster.local:8265"
            )
        if not self._submitters(namespace, name):
            self._create_submitter(job, status, cluster)
        status["jobDeploymentStatus"] = "Running"

    def _running(self, job: Mapping[str, Any], status: dict[str, Any]) -> None:
        namespace, name = _where(job)
        pods = self._submitters(namespace, name)
        failed = [p for p in pods if (p.get("status") or {}).get("phase") == "Failed"]
        finished = any((p.get("status") or {}).get("phase") == "Succeeded" for p in pods)
        limit = int(((job.get("spec") or {}).get("submitterConfig") or {}).get("backoffLimit", 2))
        if len(failed) > limit:
            status["jobDeploymentStatus"] = "Failed"
            if status.get("jobStatus") == "FAILED":
                status["reason"] = "AppFailed"
            else:
                status["reason"] = "SubmissionFailed"
                status["message"] = (
                    "Job submission has failed. Reason: BackoffLimitExceeded. "
                    "Message: Job has reached the specified backoff limit"
                )
            return
        if (
            failed
            and not finished
            and not any((p.get("status") or {}).get("phase") in ("Pending", "Running", None) for p in pods)
        ):
            cluster = self.server.get(self._plural(self._clusters), namespace, str(status["rayClusterName"]))
            if cluster is not None:
                self._create_submitter(job, status, cluster)
        info = _job_info(str(status.get("dashboardURL", "")), str(status.get("jobId", "")))
        if info is None:
            return
        job_status = str(info.get("status", ""))
        status["jobStatus"] = job_status
        status["message"] = str(info.get("message") or "")
        times = {
            key: datetime.fromtimestamp(int(info[field]) / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            for key, field in (("startTime", "start_time"), ("endTime", "end_time"))
            if info.get(field)
        }
        if times:
            status["rayJobInfo"] = times
        cluster = self.server.get(self._plural(self._clusters), namespace, str(status["rayClusterName"]))
        if cluster is not None and cluster.get("status"):
            status["rayClusterStatus"] = cluster["status"]
        if job_status in TERMINAL_JOB_STATUSES and finished:
            status["jobDeploymentStatus"] = "Failed" if job_status == "FAILED" else "Complete"
            status["reason"] = "AppFailed" if job_status == "FAILED" else ""

    def _finished(self, job: Mapping[str, Any], status: Mapping[str, Any]) -> None:
        spec = job.get("spec") or {}
        if not spec.get("shutdownAfterJobFinishes") or not status.get("endTime"):
            return
        if time.time() < _seconds(str(status["endTime"])) + int(spec.get("ttlSecondsAfterFinished", 0)):
            return
        namespace, _ = _where(job)
        cluster = str(status.get("rayClusterName", ""))
        if self.server.get(self._plural(self._clusters), namespace, cluster) is not None:
            self._delete(self._clusters, namespace, cluster)

    def _cluster_for(self, job: Mapping[str, Any], cluster_name: str) -> dict[str, Any]:
        namespace, name = _where(job)
        metadata = job.get("metadata") or {}
        labels = {**(metadata.get("labels") or {}), ORIGIN_NAME_LABEL: name, ORIGIN_CRD_LABEL: "RayJob"}
        return {
            "apiVersion": "ray.io/v1",
            "kind": "RayCluster",
            "metadata": {
                "name": cluster_name,
                "namespace": namespace,
                "labels": labels,
                **({"annotations": metadata["annotations"]} if metadata.get("annotations") else {}),
                "ownerReferences": [_owner(job)],
            },
            "spec": dict((job.get("spec") or {}).get("rayClusterSpec") or {}),
        }

    def _create_submitter(
        self, job: Mapping[str, Any], status: Mapping[str, Any], cluster: Mapping[str, Any]
    ) -> None:
        namespace, name = _where(job)
        spec = job.get("spec") or {}
        template = spec.get("submitterPodTemplate") or _default_submitter(cluster)
        pod_spec = dict(template.get("spec") or {})
        containers = [dict(c) for c in pod_spec.get("containers") or []]
        submitter = containers[0]  # KubeRay: the first container is the submitter
        address = str(status["dashboardURL"])
        address = address if address.startswith("http://") else f"http://{address}"
        if name in self._failing:
            submitter["command"] = ["/bin/sh", "-c", f"echo {shlex.quote(self._failing[name])} >&2; exit 1"]
            submitter.pop("args", None)
        elif not submitter.get("command"):
            submitter["command"] = ["/bin/bash", "-ce"]
            submitter["args"] = [self._submit_command(spec, address, str(status["jobId"]))]
        submitter["env"] = [
            *(submitter.get("env") or []),
            {"name": "PYTHONUNBUFFERED", "value": "1"},
            {"name": "RAY_DASHBOARD_ADDRESS", "value": str(status["dashboardURL"])},
            {"name": "RAY_JOB_SUBMISSION_ID", "value": str(status["jobId"])},
        ]
        containers[0] = submitter
        pod_spec.update({"containers": containers, "restartPolicy": "Never"})
        metadata = dict(template.get("metadata") or {})
        annotations = dict(metadata.get("annotations") or {})
        annotations["primary_container_name"] = submitter["name"]
        metadata.update(
            {
                "name": f"{name}-{_suffix()}",
                "namespace": namespace,
                "labels": {
                    **(metadata.get("labels") or {}),
                    JOB_NAME_LABEL: name,
                    "batch.kubernetes.io/job-name": name,
                },
                "annotations": annotations,
                "ownerReferences": [_owner(job)],
            }
        )
        self.server.create({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": pod_spec})

    def _submit_command(self, spec: Mapping[str, Any], address: str, job_id: str) -> str:
        """KubeRay's K8sJobMode submitter: submit once (a retried submitter finds the job), then follow its logs."""
        ray = shlex.quote(self.ray)
        submit = [ray, "job", "submit", "--address", address, "--no-wait"]
        if spec.get("runtimeEnvYAML"):
            import yaml

            submit += ["--runtime-env-json", shlex.quote(json.dumps(yaml.safe_load(spec["runtimeEnvYAML"])))]
        if spec.get("metadata"):
            submit += ["--metadata-json", shlex.quote(json.dumps(spec["metadata"]))]
        submit += ["--submission-id", job_id, "--", str(spec.get("entrypoint", "")).strip()]
        return (
            f"if ! {ray} job status --address {address} {job_id} >/dev/null 2>&1 ; then {' '.join(submit)} ; fi ; "
            f"{ray} job logs --address {address} --follow {job_id}"
        )

    def _submitters(self, namespace: str, name: str) -> list[dict[str, Any]]:
        pods = self.server.store.list_objects(PODS, namespace)[0]
        return [p for p in pods if (p["metadata"].get("labels") or {}).get(JOB_NAME_LABEL) == name]

    # the RayCluster controller

    def _reconcile_cluster(self, cluster: Mapping[str, Any]) -> None:
        if "deletionTimestamp" in cluster["metadata"]:
            return
        namespace, name = _where(cluster)
        pod_name = f"{name}-head"
        pod = self.server.get("pods", namespace, pod_name)
        if pod is None:
            if (cluster.get("status") or {}).get("state") != "ready":
                self.server.create(self._head_pod(cluster, pod_name))
            return
        status: dict[str, Any] = dict(cluster.get("status") or {})
        before = dict(status)
        phase = (pod.get("status") or {}).get("phase")
        head = self._heads.get((namespace, name))
        if phase == "Running" and head is not None and head.session is None:
            head.session = _session_of(pod)
        ready = phase == "Running" and (
            head is None or not self.run_locally or _dashboard_healthy(head.dashboard)
        )
        workers = (cluster.get("spec") or {}).get("workerGroupSpecs") or []
        desired = sum(int(g.get("replicas", 0)) for g in workers)
        status.update(
            {
                "desiredWorkerReplicas": desired,
                "minWorkerReplicas": sum(int(g.get("minReplicas", 0)) for g in workers),
                "maxWorkerReplicas": sum(int(g.get("maxReplicas", 0)) for g in workers),
                "desiredCPU": str(self._cpus(cluster)),
            }
        )
        if ready and status.get("state") != "ready":
            ports = head or _Head(namespace, pod_name, 6379, 8265, Path())
            status.update(
                {
                    "state": "ready",
                    "reason": "",
                    "availableWorkerReplicas": desired,
                    "readyWorkerReplicas": desired,
                    "head": {
                        "podName": pod_name,
                        "podIP": "127.0.0.1",
                        "serviceName": f"{name}-head-svc",
                        "serviceIP": "127.0.0.1",
                    },
                    "endpoints": {
                        "client": "10001",
                        "dashboard": str(ports.dashboard_port),
                        "gcs-server": str(ports.gcs_port),
                        "metrics": "8080",
                    },
                    "lastUpdateTime": now_rfc3339(),
                    "conditions": [
                        _condition("HeadPodReady", "HeadPodRunningAndReady", ""),
                        _condition(
                            "RayClusterProvisioned",
                            "AllPodRunningAndReadyFirstTime",
                            "All Ray Pods are ready for the first time",
                        ),
                    ],
                }
            )
        elif phase == "Failed" and status.get("state") != "failed":
            status.update(
                {"state": "failed", "reason": "the head pod failed", "lastUpdateTime": now_rfc3339()}
            )
        if status != before:
            self.server.set_status(self._plural(self._clusters), namespace, name, status)

    def _cpus(self, cluster: Mapping[str, Any]) -> int:
        """The head's CPUs by KubeRay's rule, plus the worker groups' (their pods are not made), bounded."""
        spec = cluster.get("spec") or {}
        head = spec.get("headGroupSpec") or {}
        total = _container_cpus(head)
        for group in spec.get("workerGroupSpecs") or []:
            total += _container_cpus(group) * int(group.get("replicas", 0))
        return max(1, min(self.max_cpus, int(total)))

    def _head_pod(self, cluster: Mapping[str, Any], pod_name: str) -> dict[str, Any]:
        namespace, name = _where(cluster)
        head_spec = (cluster.get("spec") or {}).get("headGroupSpec") or {}
        template = head_spec.get("template") or {}
        spec = dict(template.get("spec") or {})
        containers = [dict(c) for c in spec.get("containers") or []]
        metadata = dict(template.get("metadata") or {})
        if self.run_locally and containers:
            gcs, dashboard = _free_ports(2)
            temp_dir = Path(tempfile.mkdtemp(prefix="kuberay-"))
            head = _Head(namespace, pod_name, gcs, dashboard, temp_dir)
            self._heads[(namespace, name)] = head
            containers[0]["command"] = self._head_command(cluster, head)
            containers[0]["args"] = []
            containers[0]["env"] = [
                *(containers[0].get("env") or []),
                {"name": "RAY_USAGE_STATS_ENABLED", "value": "0"},
                # One try at installing a runtime environment, as the local runtimes do.
                {"name": "RUNTIME_ENV_RETRY_TIMES", "value": "1"},
            ]
        spec.update({"containers": containers, "restartPolicy": "Never"})
        metadata.update(
            {
                "name": pod_name,
                "namespace": namespace,
                "labels": {
                    **(metadata.get("labels") or {}),
                    CLUSTER_LABEL: name,
                    NODE_TYPE_LABEL: "head",
                    GROUP_LABEL: "headgroup",
                    "ray.io/is-ray-node": "yes",
                    "app.kubernetes.io/created-by": "kuberay-operator",
                    "app.kubernetes.io/name": "kuberay",
                },
                "annotations": {
                    **(metadata.get("annotations") or {}),
                    "primary_container_name": containers[0]["name"] if containers else "",
                },
                "ownerReferences": [_owner(cluster)],
            }
        )
        return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}

    def _head_command(self, cluster: Mapping[str, Any], head: _Head) -> list[str]:
        head_spec = (cluster.get("spec") or {}).get("headGroupSpec") or {}
        container = ((head_spec.get("template") or {}).get("spec") or {}).get("containers", [{}])[0]
        resources = container.get("resources") or {}
        memory = (resources.get("limits") or {}).get("memory") or (resources.get("requests") or {}).get(
            "memory"
        )
        store = max(MIN_OBJECT_STORE_MEMORY, int(parse_memory(memory) * 0.3) if memory else 256 * 1024**2)
        params = head_spec.get("rayStartParams") or {}
        client, agent = _free_ports(2)
        return [
            self.ray,
            "start",
            "--head",
            "--block",
            f"--port={head.gcs_port}",
            f"--dashboard-port={head.dashboard_port}",
            "--dashboard-host=127.0.0.1",
            "--include-dashboard=true",
            f"--ray-client-server-port={client}",
            f"--dashboard-agent-listen-port={agent}",
            f"--num-cpus={self._cpus(cluster)}",
            f"--object-store-memory={store}",
            *([f"--memory={parse_memory(memory)}"] if memory else []),
            f"--temp-dir={head.temp_dir}",
            "--disable-usage-stats",
            *(f"--{k}={v}" for k, v in sorted(params.items()) if k in PASSED_START_PARAMS),
        ]

    # deleting

    def _delete_owned(self, namespace: str, owner: str) -> None:
        """What the garbage collector does for an owner that is gone: delete what it owned."""
        assert self._clusters is not None
        for rtype in (self._clusters, PODS):
            for obj in self.server.store.list_objects(rtype, namespace)[0]:
                owners = obj["metadata"].get("ownerReferences") or []
                if any(ref.get("name") == owner for ref in owners):
                    self._delete(rtype, namespace, obj["metadata"]["name"])

    def _delete(self, rtype: ResourceType | None, namespace: str, name: str) -> None:
        assert rtype is not None
        with contextlib.suppress(Exception):  # already gone
            self.server.api.delete(rtype, namespace, name, grace_period=1 if rtype == PODS else None)

    def _end_head(self, head: _Head) -> None:
        """Every process of a head pod's container ends with it (Ray's workers and job supervisor included)."""
        if head.session is not None:
            kill_session(head.session)
        shutil.rmtree(head.temp_dir, ignore_errors=True)
        self._heads = {k: v for k, v in self._heads.items() if v is not head}

    def _plural(self, rtype: ResourceType | None) -> str:
        assert rtype is not None
        return rtype.plural


def _local_ray() -> str:
    """``ray`` of this Python's environment, else of ``PATH``."""
    here = os.path.dirname(sys.executable)
    return shutil.which("ray", path=os.pathsep.join([here, os.environ.get("PATH", "")])) or "ray"


def _suffix() -> str:
    return "".join(random.choices(string.ascii_lowercase + string.digits, k=5))


def _where(obj: Mapping[str, Any]) -> tuple[str, str]:
    return str(obj["metadata"]["namespace"]), str(obj["metadata"]["name"])


def _owner(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _condition(kind: str, reason: str, message: str) -> dict[str, Any]:
    return {
        "type": kind,
        "status": "True",
        "reason": reason,
        "message": message,
        "lastTransitionTime": now_rfc3339(),
    }


def _seconds(rfc3339: str) -> float:
    return datetime.strptime(rfc3339, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def _container_cpus(group: Mapping[str, Any]) -> float:
    containers = ((group.get("template") or {}).get("spec") or {}).get("containers") or [{}]
    resources = containers[0].get("resources") or {}
    cpu = (resources.get("limits") or {}).get("cpu") or (resources.get("requests") or {}).get("cpu")
    return parse_cpu(str(cpu)) if cpu else 1.0


def _default_submitter(cluster: Mapping[str, Any]) -> dict[str, Any]:
    """KubeRay's submitter when the RayJob names none: the head's image, 500m / 200Mi requested."""
    head = ((cluster.get("spec") or {}).get("headGroupSpec") or {}).get("template") or {}
    image = ((head.get("spec") or {}).get("containers") or [{}])[0].get("image", "")
    return {
        "spec": {
            "containers": [
                {
                    "name": "ray-job-submitter",
                    "image": image,
                    "resources": {
                        "limits": {"cpu": "1", "memory": "1Gi"},
                        "requests": {"cpu": "500m", "memory": "200Mi"},
                    },
                }
            ]
        }
    }


def _session_of(pod: Mapping[str, Any]) -> int | None:
    """The session of a pod's primary process: the kubelet starts each in a session of its own."""
    for entry in (pod.get("status") or {}).get("containerStatuses") or ():
        container_id = str(entry.get("containerID", ""))
        if container_id.removeprefix("roost-test://").isdigit():
            return int(container_id.removeprefix("roost-test://"))
    return None


def _free_ports(count: int) -> list[int]:
    import socket

    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _dashboard_healthy(address: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{address}/api/gcs_healthz", timeout=_PROBE_TIMEOUT) as answer:
            return bool(answer.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def _job_info(address: str, job_id: str) -> dict[str, Any] | None:
    """The Ray job's details from the dashboard's job API (``None`` while it does not know the job)."""
    if not address or not job_id:
        return None
    url = f"{address if address.startswith('http') else 'http://' + address}/api/jobs/{job_id}"
    try:
        with urllib.request.urlopen(url, timeout=_PROBE_TIMEOUT) as answer:
            info = json.loads(answer.read())
    except (OSError, urllib.error.URLError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def _stop_job(address: str, job_id: str) -> None:
    request = urllib.request.Request(f"http://{address}/api/jobs/{job_id}/stop", method="POST")
    with contextlib.suppress(OSError, urllib.error.URLError):
        urllib.request.urlopen(request, timeout=_PROBE_TIMEOUT).close()
