"""A spark-operator stand-in for the Kubernetes API test server (``roost_k8s_pod.testing.KubeTestServer``).

    with KubeTestServer(kubelet=True) as server:
        operator = SparkOperator(server).start()   # serves the SparkApplication CRD and reconciles it

It moves each SparkApplication through the operator's states, in the operator's order: a new application
is submitted (``SUBMITTED``, with ``driverInfo``: the driver pod's name and the UI service's address), or
refused (``SUBMISSION_FAILED`` with the message :meth:`SparkOperator.fail_submission` set). With the
server's kubelet it then does what spark-submit does in cluster mode, locally: it creates the driver pod,
whose container runs the application's main file with its arguments and pyspark configured for
``local[N]`` (N the driver's cores) with the application's ``sparkConf`` and ``hadoopConf``; the kubelet
runs it as a process. The driver pod's phase drives the application: ``Running`` → ``RUNNING``;
``Succeeded`` → ``SUCCEEDING`` → ``COMPLETED``; ``Failed`` → ``FAILING`` → ``FAILED`` with the operator's
message (``driver container failed with ExitCode: 1, Reason: Error``). A deleted application's driver pod
is deleted, as the cluster's garbage collector does. Without a kubelet, tests move applications on with
:meth:`SparkOperator.set_state`.

A main file ``local:///path`` that does not exist on this machine (an image path) runs
:mod:`roost_spark.entrypoint`, the program Spark images keep there.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from roost_k8s_pod.testing import KubeTestServer
from roost_k8s_pod.testing.api import PODS
from roost_k8s_pod.testing.store import Event, ResourceType, now_rfc3339
from roost_spark.conf import submit_arguments

__all__ = ["CRD_FILE", "SparkOperator"]

log = logging.getLogger(__name__)

CRD_FILE = "spark-operator/sparkoperator.k8s.io_sparkapplications.yaml"
"""The SparkApplication CRD in the schema folder (``ROOST_K8S_SCHEMAS``)."""
APP_LABEL = "sparkoperator.k8s.io/app-name"
ROLE_LABEL = "spark-role"
DRIVER_CONTAINER = "spark-kubernetes-driver"
ENTRYPOINT = Path(__file__).parent.parent / "entrypoint.py"


class SparkOperator:
    """Reconciles the test server's SparkApplications; see the module docstring."""

    def __init__(self, server: KubeTestServer, *, python: str = sys.executable) -> None:
        self.server = server
        self.python = python
        """The interpreter the driver pods run."""
        self._apps: ResourceType | None = None
        self._failures: dict[str, str] = {}
        self._queue: queue.Queue[Event | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def start(self) -> SparkOperator:
        """Serve the CRD (``SchemasNotFoundError`` when the schema folder is absent) and start reconciling."""
        self._apps = self.server.register_crd_file(CRD_FILE)
        self.server.store.add_listener(self._on_event)
        self._thread = threading.Thread(target=self._loop, name="spark-operator-stand-in", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop reconciling."""
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(10)

    def fail_submission(self, name: str, message: str) -> None:
        """Make the submission of the application ``name`` fail with ``message``."""
        self._failures[name] = message

    def set_state(self, namespace: str, name: str, state: str, error_message: str = "") -> None:
        """Put an application in ``state`` (for tests without a kubelet)."""
        current = self.server.get("sparkapplications", namespace, name)
        assert current is not None, f"no SparkApplication {namespace}/{name}"
        status = dict(current.get("status") or {})
        status["applicationState"] = {
            "state": state,
            **({"errorMessage": error_message} if error_message else {}),
        }
        self.server.set_status("sparkapplications", namespace, name, status)

    # reconciling

    def _on_event(self, event: Event) -> None:
        # Called under the store's lock: hand the work to the operator's thread.
        self._queue.put(event)

    def _loop(self) -> None:
        while True:
            event = self._queue.get()
            if event is None:
                return
            try:
                self._reconcile(event)
            except Exception:  # a stand-in must keep going, as the real operator does
                log.exception("spark-operator stand-in: reconciling %s failed", event.type)

    def _reconcile(self, event: Event) -> None:
        obj = event.obj
        metadata = obj.get("metadata") or {}
        namespace, name = str(metadata.get("namespace", "")), str(metadata.get("name", ""))
        if event.rtype == self._apps:
            if event.type == "DELETED":
                self._delete_driver(namespace, f"{name}-driver")
            elif event.type == "ADDED" and not obj.get("status"):
                self._submit(namespace, name, obj)
        elif event.rtype == PODS and (metadata.get("labels") or {}).get(ROLE_LABEL) == "driver":
            app = (metadata.get("labels") or {}).get(APP_LABEL)
            if app and event.type != "DELETED":
                self._follow_driver(namespace, str(app), obj)

    def _submit(self, namespace: str, name: str, app: Mapping[str, Any]) -> None:
        now = now_rfc3339()
        status: dict[str, Any] = {"submissionAttempts": 1, "lastSubmissionAttemptTime": now}
        message = self._failures.pop(name, None)
        if message is not None:
            status["applicationState"] = {"state": "SUBMISSION_FAILED", "errorMessage": message}
            self.server.set_status("sparkapplications", namespace, name, status)
            return
        driver = f"{name}-driver"
        status.update(
            {
                "applicationState": {"state": "SUBMITTED"},
                "submissionID": f"{name}-submission",
                "sparkApplicationId": f"spark-{name}",
                "executionAttempts": 1,
                "driverInfo": {
                    "podName": driver,
                    "webUIServiceName": f"{name}-ui-svc",
                    "webUIPort": 4040,
                    "webUIAddress": "10.96.0.40:4040",
                },
            }
        )
        self.server.set_status("sparkapplications", namespace, name, status)
        if self.server.kubelet is not None:
            self.server.create(self._driver_pod(namespace, name, driver, app))

    def _driver_pod(self, namespace: str, name: str, pod: str, app: Mapping[str, Any]) -> dict[str, Any]:
        spec = app.get("spec") or {}
        driver = spec.get("driver") or {}
        main = str(spec.get("mainApplicationFile", ""))
        local = Path(main.removeprefix("local://"))
        program = str(local) if main.startswith("local://") and local.exists() else str(ENTRYPOINT)
        settings = dict(spec.get("sparkConf") or {})
        settings.update({f"spark.hadoop.{k}": v for k, v in (spec.get("hadoopConf") or {}).items()})
        settings.pop("spark.pyspark.python", None)  # the image's Python: here, this machine's
        settings.pop("spark.pyspark.driver.python", None)
        settings.update({"spark.driver.bindAddress": "127.0.0.1", "spark.driver.host": "127.0.0.1"})
        env = [
            *(driver.get("env") or []),
            {"name": "SPARK_LOCAL_IP", "value": "127.0.0.1"},
            {
                "name": "PYSPARK_SUBMIT_ARGS",
                "value": submit_arguments(f"local[{driver.get('cores', 1)}]", settings),
            },
        ]
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": pod,
                "namespace": namespace,
                "labels": {**(driver.get("labels") or {}), APP_LABEL: name, ROLE_LABEL: "driver"},
            },
            "spec": {
                "restartPolicy": "Never",
                "containers": [
                    {
                        "name": DRIVER_CONTAINER,
                        "image": str(spec.get("image", "")),
                        "command": [self.python, program, *[str(a) for a in spec.get("arguments") or []]],
                        "env": env,
                    }
                ],
            },
        }

    def _follow_driver(self, namespace: str, app: str, pod: Mapping[str, Any]) -> None:
        current = self.server.get("sparkapplications", namespace, app)
        if current is None:
            return
        status = dict(current.get("status") or {})
        state = (status.get("applicationState") or {}).get("state", "")
        phase = (pod.get("status") or {}).get("phase", "")
        if phase == "Running" and state == "SUBMITTED":
            self._set(namespace, app, status, "RUNNING")
        elif phase == "Succeeded" and state in ("SUBMITTED", "RUNNING"):
            self._set(namespace, app, status, "SUCCEEDING")
            self._set(namespace, app, status, "COMPLETED", terminated=True)
        elif phase == "Failed" and state in ("SUBMITTED", "RUNNING"):
            message = _driver_failure(pod)
            self._set(namespace, app, status, "FAILING", message)
            self._set(namespace, app, status, "FAILED", message, terminated=True)

    def _set(
        self,
        namespace: str,
        name: str,
        status: dict[str, Any],
        state: str,
        message: str = "",
        *,
        terminated: bool = False,
    ) -> None:
        status["applicationState"] = {"state": state, **({"errorMessage": message} if message else {})}
        if terminated:
            status["terminationTime"] = now_rfc3339()
        self.server.set_status("sparkapplications", namespace, name, status)

    def _delete_driver(self, namespace: str, pod: str) -> None:
        if self.server.get("pods", namespace, pod) is not None:
            self.server.api.delete(PODS, namespace, pod, grace_period=0)


def _driver_failure(pod: Mapping[str, Any]) -> str:
    """The operator's message for a failed driver: its container's exit code and reason."""
    for container in (pod.get("status") or {}).get("containerStatuses") or ():
        terminated = (container.get("state") or {}).get("terminated")
        if container.get("name") == DRIVER_CONTAINER and terminated:
            return (
                f"driver container failed with ExitCode: {terminated.get('exitCode')}, "
                f"Reason: {terminated.get('reason', '')}"
            )
    return "driver pod failed"
