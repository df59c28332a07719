"""The test server's "kubelet": one node that schedules pods and runs their primary container locally.

A pod that fits the node (node selector, required node affinity, taints, and its requests within the
node's free capacity) is bound to it; one that does not stays Pending with the scheduler's
``Unschedulable`` condition and is tried again whenever capacity frees up. A bound pod's primary
container (the ``primary_container_name`` annotation, else the first container) runs as a local process:
its ``command`` + ``args`` as given (``$(VAR)`` expanded), its environment resolved from the pod spec
(values, Secrets, ConfigMaps, field and resource references, ``envFrom``), stdout and stderr into a log
that ``pods/log`` serves. The pod moves Pending → Running → Succeeded or Failed with container statuses
(exit code, reason, the log tail as message under ``FallbackToLogsOnError``), ``activeDeadlineSeconds``
is enforced, and a deleted pod's process is stopped (SIGTERM, then SIGKILL) before the object goes.

Hooks force what a test cannot provoke with a real process: :meth:`Kubelet.fail_image_pull`,
:meth:`Kubelet.oom_kill`, :meth:`Kubelet.evict`, :meth:`Kubelet.preempt`, and :meth:`Kubelet.set_node`
(capacity, labels, taints) for unschedulable pods.

Not done: images (nothing is pulled; an image only selects an entrypoint from ``entrypoints``), volumes
(nothing is mounted), init containers, restarts (every pod runs as ``restartPolicy: Never``), probes,
and containers other than the primary one: they are reported as running until the pod is deleted.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import logging
import os
import queue
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from roost_k8s_pod._quantity import QuantityError, parse_quantity
from roost_k8s_pod.testing.api import CONFIGMAPS, PODS, SECRETS, KubeApi
from roost_k8s_pod.testing.store import Event, now_rfc3339

__all__ = ["Kubelet", "KubeletOptions"]

log = logging.getLogger(__name__)

PRIMARY_CONTAINER_ANNOTATION = "primary_container_name"
_LOG_TAIL_LINES = 80
_LOG_TAIL_BYTES = 2048
_VARIABLE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")
_PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


@dataclass(frozen=True, slots=True)
class KubeletOptions:
    """How the test node looks and runs containers."""

    node_name: str = "roost-test-node"
    capacity: Mapping[str, str] = field(
        default_factory=lambda: {"cpu": "16", "memory": "64Gi", "ephemeral-storage": "100Gi", "pods": "110"}
    )
    """Allocatable resources; pods whose requests do not fit stay unschedulable."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Node labels (``kubernetes.io/hostname`` is added) that node selectors and affinity are matched to."""
    taints: Sequence[Mapping[str, str]] = ()
    """Node taints (key, value, effect); pods must tolerate the NoSchedule and NoExecute ones."""
    entrypoints: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """Image → its ENTRYPOINT, for containers without a ``command``."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Environment every process gets before the pod's own (``PATH``, ``HOME``, ``LANG`` are passed through)."""
    max_grace_period: float = 2.0
    """Longest wait between SIGTERM and SIGKILL when a pod is deleted (seconds)."""
    work_dir: Path | None = None
    """Where logs and working directories go (default: a temporary folder)."""


@dataclass(slots=True)
class _Running:
    """A pod whose primary container runs as a process."""

    namespace: str
    name: str
    container: str
    process: subprocess.Popen[bytes]
    log: Path
    started_at: str
    deadline: float | None
    kill_reason: str = ""
    kill_message: str = ""


class Kubelet:
    """Schedules and runs the pods of a :class:`KubeApi` on one simulated node; see the module docstring."""

    def __init__(self, api: KubeApi, options: KubeletOptions, *, server_address: str = "") -> None:
        self.api = api
        self.options = options
        self._server_address = server_address
        self._labels = {"kubernetes.io/hostname": options.node_name, **options.labels}
        self._capacity = dict(options.capacity)
        self._taints = [dict(t) for t in options.taints]
        self._bad_images: dict[str, str] = {}
        self._own_work = options.work_dir is None
        self._work = options.work_dir or Path(tempfile.mkdtemp(prefix="roost-kubelet-"))
        self._running: dict[tuple[str, str], _Running] = {}
        self._bound: dict[tuple[str, str], Mapping[str, Fraction]] = {}
        self._waiting: set[tuple[str, str]] = set()
        self._logs: dict[tuple[str, str, str], Path] = {}
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._lock = threading.RLock()
        self._stop = threading.Event()
        api.graceful_pods = self._is_bound
        api.store.add_listener(self._on_event)
        self._thread = threading.Thread(target=self._loop, name="roost-test-kubelet", daemon=True)
        self._thread.start()

    # hooks

    def fail_image_pull(self, image: str, reason: str = "ImagePullBackOff") -> None:
        """Pods started from now on with ``image`` wait in ``ErrImagePull`` then ``reason``."""
        self._call(lambda: self._bad_images.__setitem__(image, reason))

    def oom_kill(self, namespace: str, name: str) -> None:
        """Kill the pod's process as the kernel's OOM killer would: SIGKILL, reason ``OOMKilled``."""
        self._call(lambda: self._kill(namespace, name, "OOMKilled", "", signal.SIGKILL))

    def evict(self, namespace: str, name: str, message: str = "") -> None:
        """Evict the pod for node pressure: its process is killed and the pod fails with reason ``Evicted``."""
        text = message or "The node was low on resource: memory. Threshold quantity: 100Mi, available: 20Mi."
        self._call(lambda: self._kill(namespace, name, "Evicted", text, signal.SIGKILL))

    def preempt(self, namespace: str, name: str) -> None:
        """Preempt the pod for a higher-priority one: a ``DisruptionTarget`` condition, then deletion."""
        self._call(lambda: self._preempt(namespace, name))

    def set_node(
        self,
        *,
        capacity: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
        taints: Sequence[Mapping[str, str]] | None = None,
    ) -> None:
        """Change the node; pending pods are scheduled again."""

        def change() -> None:
            if capacity is not None:
                self._capacity = dict(capacity)
            if labels is not None:
                self._labels = {"kubernetes.io/hostname": self.options.node_name, **labels}
            if taints is not None:
                self._taints = [dict(t) for t in taints]
            self._retry_waiting()

        self._call(change)

    def log_path(self, namespace: str, name: str, container: str) -> Path | None:
        """The log file of a started container, or None."""
        with self._lock:
            return self._logs.get((namespace, name, container))

    def container_running(self, namespace: str, name: str, container: str) -> bool:
        """True while the container's process runs."""
        with self._lock:
            running = self._running.get((namespace, name))
            return running is not None and running.container == container and running.process.poll() is None

    def close(self) -> None:
        """Kill every process, stop the kubelet thread, and remove the work folder if the kubelet made it."""
        self._stop.set()
        self._queue.put(("stop", None))
        self._thread.join(10)
        with self._lock:
            for running in self._running.values():
                _signal_group(running.process, signal.SIGKILL)
            for running in self._running.values():
                with contextlib.suppress(subprocess.TimeoutExpired):
                    running.process.wait(5)
            self._running.clear()
        if self._own_work:
            shutil.rmtree(self._work, ignore_errors=True)

    # the loop

    def _call(self, action: Callable[[], None]) -> None:
        done = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            try:
                action()
            except BaseException as exc:
                errors.append(exc)
            finally:
                done.set()

        self._queue.put(("call", run))
        if not done.wait(30):
            raise TimeoutError("the test kubelet did not answer within 30 s")
        if errors:
            raise errors[0]

    def _is_bound(self, pod: Mapping[str, Any]) -> bool:
        return bool((pod.get("spec") or {}).get("nodeName"))

    def _on_event(self, event: Event) -> None:
        if event.rtype.key == PODS.key:
            self._queue.put(("pod", event))

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                kind, payload = self._queue.get(timeout=0.1)
            except queue.Empty:
                self._check_deadlines()
                continue
            try:
                if kind == "pod":
                    self._pod_event(payload)
                elif kind == "exited":
                    self._exited(*payload)
                elif kind == "call":
                    payload()
            except Exception:  # the loop must survive a bad pod; the failure shows in the test's pod state
                log.exception("test kubelet failed on %s", kind)
            self._check_deadlines()

    def _pod_event(self, event: Event) -> None:
        metadata = event.obj["metadata"]
        key = (metadata["namespace"], metadata["name"])
        if event.type == "ADDED":
            self._schedule(key)
        elif event.type == "DELETED":
            self._waiting.discard(key)
            if key in self._running:
                self._kill(*key, "Deleted", "", signal.SIGKILL)
            self._release(key)
        elif event.type == "MODIFIED" and "deletionTimestamp" in metadata:
            self._waiting.discard(key)
            if key in self._running and not self._running[key].kill_reason:
                grace = float(metadata.get("deletionGracePeriodSeconds") or 0)
                self._terminate(key, grace)
            elif key not in self._running:
                self.api.finish_deletion(PODS, *key)

    # scheduling

    def _schedule(self, key: tuple[str, str]) -> None:
        pod = self.api.store.get(PODS, *key)
        if pod is None or pod["spec"].get("nodeName") or "deletionTimestamp" in pod["metadata"]:
            return
        reason = self._unfit(pod)
        if reason:
            self._waiting.add(key)
            self._set_status(
                key,
                lambda status: _set_condition(
                    status, "PodScheduled", "False", "Unschedulable", f"0/1 nodes are available: {reason}."
                ),
            )
            return
        self._waiting.discard(key)
        self._bound[key] = _requests(pod)
        pod["spec"]["nodeName"] = self.options.node_name
        self.api.update_object(PODS, pod)
        self._start(key)

    def _unfit(self, pod: Mapping[str, Any]) -> str:
        spec = pod["spec"]
        selector = spec.get("nodeSelector") or {}
        if any(self._labels.get(k) != v for k, v in selector.items()) or not self._affinity_ok(spec):
            return "1 node(s) didn't match Pod's node affinity/selector"
        for taint in self._taints:
            if taint.get("effect") in ("NoSchedule", "NoExecute") and not _tolerated(
                taint, spec.get("tolerations")
            ):
                return f"1 node(s) had untolerated taint {{{taint.get('key')}: {taint.get('value', '')}}}"
        free = {name: parse_quantity(value) for name, value in self._capacity.items()}
        for requests in self._bound.values():
            for name, amount in requests.items():
                free[name] = free.get(name, Fraction(0)) - amount
        short = sorted(
            name for name, amount in _requests(pod).items() if amount > free.get(name, Fraction(0))
        )
        if short:
            return "1 " + ", ".join(f"Insufficient {name}" for name in short)
        return ""

    def _affinity_ok(self, spec: Mapping[str, Any]) -> bool:
        required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        ) or {}
        terms = required.get("nodeSelectorTerms") or []
        if not terms:
            return True
        return any(
            all(_expression_ok(e, self._labels) for e in t.get("matchExpressions") or []) for t in terms
        )

    def _retry_waiting(self) -> None:
        for key in sorted(self._waiting):
            self._schedule(key)

    def _release(self, key: tuple[str, str]) -> None:
        if self._bound.pop(key, None) is not None:
            self._retry_waiting()

    # running

    def _start(self, key: tuple[str, str]) -> None:
        pod = self.api.store.get(PODS, *key)
        if pod is None:
            return
        spec = pod["spec"]
        containers = spec["containers"]
        primary_name = (pod["metadata"].get("annotations") or {}).get(PRIMARY_CONTAINER_ANNOTATION)
        primary = next((c for c in containers if c["name"] == primary_name), containers[0])
        now = now_rfc3339()

        def scheduled(status: dict[str, Any]) -> None:
            _set_condition(status, "PodScheduled", "True")
            status.update({"hostIP": "127.0.0.1", "hostIPs": [{"ip": "127.0.0.1"}], "startTime": now})
            status["containerStatuses"] = [_waiting(c, "ContainerCreating") for c in containers]

        self._set_status(key, scheduled)
        bad = self._bad_images.get(primary.get("image", ""))
        if bad:
            message = f'Back-off pulling image "{primary.get("image")}"'
            for reason in ("ErrImagePull", bad):

                def pull_failed(status: dict[str, Any], reason: str = reason) -> None:
                    self._waiting_on(status, containers, primary, reason, message)

                self._set_status(key, pull_failed)
            return
        try:
            argv, env = self._command(pod, primary)
        except _ContainerError as exc:
            reason, text = exc.reason, exc.message
            self._set_status(key, lambda s: self._waiting_on(s, containers, primary, reason, text))
            return
        folder = self._work / key[0] / key[1]
        folder.mkdir(parents=True, exist_ok=True)
        log = folder / f"{primary['name']}.log"
        working = primary.get("workingDir")
        cwd = working if working and Path(working).is_dir() else str(folder)
        try:
            with open(log, "ab") as out:
                process = subprocess.Popen(
                    argv,
                    env=env,
                    cwd=cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        except OSError as exc:
            message = f"failed to create containerd task: exec: {argv[0]!r}: {exc.strerror}"
            self._set_status(
                key, lambda s: self._waiting_on(s, containers, primary, "RunContainerError", message)
            )
            return
        deadline = spec.get("activeDeadlineSeconds")
        running = _Running(
            key[0],
            key[1],
            primary["name"],
            process,
            log,
            now_rfc3339(),
            time.monotonic() + deadline if deadline else None,
        )
        with self._lock:
            self._running[key] = running
            self._logs[(key[0], key[1], primary["name"])] = log
        threading.Thread(
            target=self._wait_for, args=(key, process), daemon=True, name=f"kubelet-{key[1]}"
        ).start()

        def started(status: dict[str, Any]) -> None:
            status["phase"] = "Running"
            for kind in ("PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready"):
                _set_condition(status, kind, "True")
            status.update({"podIP": "127.0.0.1", "podIPs": [{"ip": "127.0.0.1"}]})
            status["containerStatuses"] = [
                {
                    **_base(c),
                    "ready": True,
                    "started": True,
                    "containerID": f"roost-test://{process.pid}"
                    if c is primary
                    else f"roost-test://{c['name']}",
                    "state": {"running": {"startedAt": running.started_at}},
                }
                for c in containers
            ]

        self._set_status(key, started)

    def _waiting_on(
        self,
        status: dict[str, Any],
        containers: list[dict[str, Any]],
        primary: Mapping[str, Any],
        reason: str,
        message: str,
    ) -> None:
        status["containerStatuses"] = [
            _waiting(c, reason, message) if c is primary else _waiting(c, "ContainerCreating")
            for c in containers
        ]
        names = ",".join(c["name"] for c in containers)
        _set_condition(
            status,
            "ContainersReady",
            "False",
            "ContainersNotReady",
            f"containers with unready status: [{names}]",
        )
        _set_condition(
            status, "Ready", "False", "ContainersNotReady", f"containers with unready status: [{names}]"
        )

    def _command(
        self, pod: Mapping[str, Any], container: Mapping[str, Any]
    ) -> tuple[list[str], dict[str, str]]:
        env = {name: os.environ[name] for name in _PASSED_THROUGH if name in os.environ}
        env.update(self.options.env)
        env["HOSTNAME"] = pod["metadata"]["name"]
        if self._server_address:
            host, _, port = self._server_address.rpartition(":")
            env.update({"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port})
        own = self._container_env(pod, container)
        env.update(own)
        command = list(container.get("command") or ())
        if not command:
            command = list(self.options.entrypoints.get(container.get("image", ""), ()))
        if not command:
            raise _ContainerError(
                "CreateContainerError",
                f"the test kubelet cannot run image {container.get('image')!r}: the container has no command and "
                "no entrypoint is configured for the image",
            )
        argv = [_expand(part, own) for part in [*command, *(container.get("args") or ())]]
        return argv, env

    def _container_env(self, pod: Mapping[str, Any], container: Mapping[str, Any]) -> dict[str, str]:
        namespace = pod["metadata"]["namespace"]
        env: dict[str, str] = {}
        for source in container.get("envFrom") or ():
            prefix = source.get("prefix", "")
            for kind, rtype in (("secretRef", SECRETS), ("configMapRef", CONFIGMAPS)):
                ref = source.get(kind)
                if ref is None:
                    continue
                obj = self.api.store.get(rtype, namespace, ref.get("name", ""))
                if obj is None:
                    if ref.get("optional"):
                        continue
                    raise _ContainerError(
                        "CreateContainerConfigError", f'{rtype.singular} "{ref.get("name")}" not found'
                    )
                for key, value in _data(obj).items():
                    env[prefix + key] = value
        for variable in container.get("env") or ():
            name = variable["name"]
            if "valueFrom" in variable:
                found = self._value_from(pod, container, variable["valueFrom"])
                if found is not None:
                    env[name] = found
            else:
                env[name] = _expand(variable.get("value", ""), env)
        return env

    def _value_from(
        self, pod: Mapping[str, Any], container: Mapping[str, Any], source: Mapping[str, Any]
    ) -> str | None:
        namespace = pod["metadata"]["namespace"]
        for kind, rtype in (("secretKeyRef", SECRETS), ("configMapKeyRef", CONFIGMAPS)):
            if kind not in source:
                continue
            ref = source[kind]
            obj = self.api.store.get(rtype, namespace, ref.get("name", ""))
            data = _data(obj) if obj is not None else None
            if data is None or ref.get("key") not in data:
                if ref.get("optional"):
                    return None
                if data is None:
                    raise _ContainerError(
                        "CreateContainerConfigError", f'{rtype.singular} "{ref.get("name")}" not found'
                    )
                raise _ContainerError(
                    "CreateContainerConfigError",
                    f"couldn't find key {ref.get('key')} in {rtype.kind} {namespace}/{ref.get('name')}",
                )
            return data[ref["key"]]
        if "fieldRef" in source:
            return _field(pod, str(source["fieldRef"].get("fieldPath", "")))
        if "resourceFieldRef" in source:
            ref = source["resourceFieldRef"]
            target = next(
                (c for c in pod["spec"]["containers"] if c["name"] == ref.get("containerName")), container
            )
            part, _, resource = str(ref.get("resource", "")).partition(".")
            raw = ((target.get("resources") or {}).get(part) or {}).get(resource)
            if raw is None:
                raw = self._capacity.get(resource, "0")
            divisor = parse_quantity(ref.get("divisor") or "1") or Fraction(1)
            value = parse_quantity(raw) / divisor
            return str(-(-value.numerator // value.denominator))
        return None

    def _wait_for(self, key: tuple[str, str], process: subprocess.Popen[bytes]) -> None:
        process.wait()
        self._queue.put(("exited", (key, process)))

    def _exited(self, key: tuple[str, str], process: subprocess.Popen[bytes]) -> None:
        with self._lock:
            running = self._running.get(key)
            if running is None or running.process is not process:
                return
            del self._running[key]
        code = process.returncode
        exit_code = 128 - code if code < 0 else code
        reason = (
            running.kill_reason
            if running.kill_reason in ("OOMKilled",)
            else ("Completed" if exit_code == 0 else "Error")
        )
        message = ""
        pod = self.api.store.get(PODS, *key)
        if pod is None:
            self._release(key)
            return
        primary = next(c for c in pod["spec"]["containers"] if c["name"] == running.container)
        if exit_code != 0 and primary.get("terminationMessagePolicy") == "FallbackToLogsOnError":
            message = _log_tail(running.log)
        finished = now_rfc3339()
        sidecars = len(pod["spec"]["containers"]) > 1 and not running.kill_reason

        def ended(status: dict[str, Any]) -> None:
            statuses = status.get("containerStatuses") or []
            for entry in statuses:
                terminated: dict[str, Any] | None = None
                if entry["name"] == running.container:
                    terminated = {
                        "exitCode": exit_code,
                        "reason": reason,
                        "startedAt": running.started_at,
                        "finishedAt": finished,
                        "containerID": entry.get("containerID", ""),
                    }
                    if code < 0:
                        terminated["signal"] = -code
                    if message:
                        terminated["message"] = message
                elif not sidecars:
                    terminated = {
                        "exitCode": 137 if running.kill_reason else 0,
                        "reason": "Error" if running.kill_reason else "Completed",
                        "startedAt": running.started_at,
                        "finishedAt": finished,
                    }
                if terminated is not None:
                    entry.update({"ready": False, "started": False, "state": {"terminated": terminated}})
            if sidecars:
                _set_condition(
                    status,
                    "Ready",
                    "False",
                    "ContainersNotReady",
                    f"containers with unready status: [{running.container}]",
                )
                return
            failed = exit_code != 0 or running.kill_reason in (
                "Evicted",
                "DeadlineExceeded",
                "Preempted",
                "Deleted",
            )
            status["phase"] = "Failed" if failed else "Succeeded"
            if running.kill_reason in ("Evicted", "DeadlineExceeded"):
                status["reason"], status["message"] = running.kill_reason, running.kill_message
            for kind in ("Ready", "ContainersReady"):
                _set_condition(status, kind, "False", "PodFailed" if failed else "PodCompleted", "")

        self._set_status(key, ended)
        self._release(key)
        if "deletionTimestamp" in pod["metadata"] or running.kill_reason == "Preempted":
            self.api.finish_deletion(PODS, *key)

    def _kill(self, namespace: str, name: str, reason: str, message: str, sig: signal.Signals) -> None:
        key = (namespace, name)
        with self._lock:
            running = self._running.get(key)
        if running is None:
            raise LookupError(f"pod {namespace}/{name} has no running process on the test node")
        if not running.kill_reason:
            running.kill_reason, running.kill_message = reason, message
        _signal_group(running.process, sig)

    def _terminate(self, key: tuple[str, str], grace: float) -> None:
        running = self._running[key]
        running.kill_reason = running.kill_reason or "Deleted"
        _signal_group(running.process, signal.SIGTERM if grace > 0 else signal.SIGKILL)
        wait = min(grace, self.options.max_grace_period)
        if grace > 0:
            escalation = threading.Timer(wait, _signal_group, args=(running.process, signal.SIGKILL))
            escalation.daemon = True
            escalation.start()

    def _preempt(self, namespace: str, name: str) -> None:
        key = (namespace, name)
        if key not in self._running:
            raise LookupError(f"pod {namespace}/{name} has no running process on the test node")
        self._set_status(
            key,
            lambda s: _set_condition(
                s,
                "DisruptionTarget",
                "True",
                "PreemptionByScheduler",
                "default-scheduler: preempting to accommodate a higher priority pod",
            ),
        )
        self._running[key].kill_reason = "Preempted"
        self.api.delete(PODS, namespace, name, 1)
        _signal_group(self._running[key].process, signal.SIGKILL)

    def _check_deadlines(self) -> None:
        now = time.monotonic()
        with self._lock:
            expired = [
                r
                for r in self._running.values()
                if r.deadline is not None and now >= r.deadline and not r.kill_reason
            ]
        for running in expired:
            running.kill_reason = "DeadlineExceeded"
            running.kill_message = "Pod was active on the node longer than the specified deadline"
            _signal_group(running.process, signal.SIGKILL)

    def _set_status(self, key: tuple[str, str], change: Callable[[dict[str, Any]], None]) -> None:
        with self.api.store.lock:
            pod = self.api.store.get(PODS, *key)
            if pod is None:
                return
            status = copy.deepcopy(pod.get("status") or {})
            change(status)
            self.api.set_status(PODS, key[0], key[1], status)


class _ContainerError(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def _base(container: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": container["name"],
        "image": container.get("image", ""),
        "imageID": "",
        "restartCount": 0,
        "lastState": {},
    }


def _waiting(container: Mapping[str, Any], reason: str, message: str = "") -> dict[str, Any]:
    waiting = {"reason": reason, **({"message": message} if message else {})}
    return {**_base(container), "ready": False, "started": False, "state": {"waiting": waiting}}


def _set_condition(
    status: dict[str, Any], kind: str, value: str, reason: str = "", message: str = ""
) -> None:
    conditions = status.setdefault("conditions", [])
    for condition in conditions:
        if condition["type"] == kind:
            if condition["status"] != value:
                condition["lastTransitionTime"] = now_rfc3339()
            condition["status"] = value
            condition.pop("reason", None)
            condition.pop("message", None)
            break
    else:
        condition = {
            "type": kind,
            "status": value,
            "lastProbeTime": None,
            "lastTransitionTime": now_rfc3339(),
        }
        conditions.append(condition)
    if reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message


def _requests(pod: Mapping[str, Any]) -> dict[str, Fraction]:
    total: dict[str, Fraction] = {"pods": Fraction(1)}
    for container in pod["spec"].get("containers") or ():
        resources = container.get("resources") or {}
        merged = {**(resources.get("limits") or {}), **(resources.get("requests") or {})}
        for name, raw in merged.items():
            with contextlib.suppress(QuantityError):
                total[name] = total.get(name, Fraction(0)) + parse_quantity(raw)
    return total


def _tolerated(taint: Mapping[str, str], tolerations: Sequence[Mapping[str, Any]] | None) -> bool:
    for toleration in tolerations or ():
        if toleration.get("effect") and toleration.get("effect") != taint.get("effect"):
            continue
        if toleration.get("operator") == "Exists" and toleration.get("key") in (None, "", taint.get("key")):
            return True
        if toleration.get("key") == taint.get("key") and toleration.get("value", "") == taint.get(
            "value", ""
        ):
            return True
    return False


def _expression_ok(expression: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key, operator = expression.get("key", ""), expression.get("operator")
    values = expression.get("values") or []
    if operator == "In":
        return labels.get(key) in values
    if operator == "NotIn":
        return labels.get(key) not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    if operator in ("Gt", "Lt") and key in labels and values:
        with contextlib.suppress(ValueError):
            return (
                int(labels[key]) > int(values[0]) if operator == "Gt" else int(labels[key]) < int(values[0])
            )
    return False


def _data(obj: Mapping[str, Any]) -> dict[str, str]:
    data = dict(obj.get("data") or {})
    if obj.get("kind") == "Secret":
        return {k: base64.b64decode(v).decode(errors="replace") for k, v in data.items()}
    return {k: str(v) for k, v in data.items()}


def _field(pod: Mapping[str, Any], path: str) -> str:
    match = re.fullmatch(r"metadata\.(labels|annotations)\['([^']*)'\]", path)
    if match:
        return str((pod["metadata"].get(match.group(1)) or {}).get(match.group(2), ""))
    current: Any = pod
    for part in path.split("."):
        current = current.get(part, "") if isinstance(current, Mapping) else ""
    if path.startswith("status."):
        return {"status.podIP": "127.0.0.1", "status.hostIP": "127.0.0.1"}.get(path, str(current))
    return str(current)


def _expand(text: str, env: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env[name] if name in env else match.group(0)

    return _VARIABLE.sub(replace, text)


def _log_tail(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    lines = data.splitlines(keepends=True)[-_LOG_TAIL_LINES:]
    return b"".join(lines)[-_LOG_TAIL_BYTES:].decode(errors="replace")
