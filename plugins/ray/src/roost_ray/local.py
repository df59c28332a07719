"""The ``ray-local`` handler: Ray tasks on a local Ray runtime, the default for ``ray`` on ``roost start``.

An attempt gets a runtime from the handler's :class:`~roost_ray.runtime.RuntimePool` (a Ray head started with
``ray start``, bounded by the task's CPU and memory limits, else its requests), then its container command runs
as ``local-process`` runs it (same supervisor, logs, image environments and task environment), with
``RAY_ADDRESS`` naming the runtime: the task's code (Roost's or flytekitplugins-ray's ``pre_execute``) joins it
as the driver of its Ray job. The runtime is started with the ``ray`` of the environment the task runs in
(``image_environments``), since a driver must match its cluster's Ray version.

Reuse: attempts whose runtimes would have the same shape (CPUs, object-store memory, memory, ``ray``, the
``num-gpus`` and ``resources`` start parameters of the head) share one runtime; it stops ``idle_timeout``
seconds after its last attempt ended (``reuse_runtime: false`` gives each attempt its own). Runtime
environments are per job, so they never prevent sharing.

Abort kills the attempt's process group; when no other attempt uses its runtime, the runtime's whole session
(GCS, raylet, agents, workers) is killed too. Otherwise Ray ends the job's workers when its driver dies.

Restart: closing the handler stops the runtimes no driver runs on, and leaves the others running with their
drivers (as ``local-process`` leaves its tasks); the next engine re-attaches to the attempt and stops that
runtime (removing its folder) when the attempt ends, or at once when the attempt had not started its driver
yet.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from google.protobuf.json_format import MessageToDict

from roost_core.errors import ErrorKind
from roost_core.extend import LocalProcessHandler
from roost_core.handler import TaskContext, TaskHandler, TaskLog, TaskPhase, Transition
from roost_ray.runtime import (
    RayRuntime,
    RuntimePool,
    RuntimeShape,
    kill_session,
    session_processes,
    shape_for,
)
from roost_ray.settings import RayLocalSettings

__all__ = ["RayLocalHandler"]

_CPU = 1  # flyteidl Resources.ResourceName
_MEMORY = 3


class RayLocalHandler(TaskHandler):
    """Runs Ray tasks' drivers as local processes on shared local Ray runtimes; see the module docstring."""

    name = "ray-local"

    def __init__(self, settings: RayLocalSettings | None = None) -> None:
        self.settings = settings or RayLocalSettings()
        self.processes = LocalProcessHandler(self.settings)
        self.pool = RuntimePool(
            temp_root=self.settings.ray_temp_dir,
            reuse=self.settings.reuse_runtime,
            idle_timeout=self.settings.idle_timeout,
            start_timeout=self.settings.start_timeout,
        )

    def handle(self, ctx: TaskContext) -> Transition:
        """Get the attempt a runtime (first rounds), then run and watch its driver process."""
        user = _attempt_key(ctx)
        process_state = ctx.state.get("process")
        if process_state is not None:
            address = str(ctx.state["address"])
            transition = self.processes.handle(self._process_context(ctx, process_state, address))
            return self._wrap(ctx, user, transition, address)
        task = ctx.task.id.name
        # A previous engine's runtime this attempt waited for (it never started its driver there): stop it.
        self._stop_foreign_runtime(ctx, user)
        try:
            shape = self.shape(ctx)
        except ValueError as exc:
            return Transition.failure("BadTaskSpecification", f"task {task!r}: {exc}", retryable=False)
        runtime = self.pool.acquire(shape, user, ctx.notify)
        if not runtime.ready.is_set():
            return Transition.queued(
                state={"runtime": _runtime_state(runtime)},
                reason=f"starting a local Ray runtime ({shape.describe()})",
                wake_after=5.0,
            )
        if runtime.error is not None:
            self.pool.release(user)
            return Transition.failure(
                "RayRuntimeStartFailed",
                f"task {task!r}: the local Ray runtime ({shape.describe()}) did not start: {runtime.error}",
                kind=ErrorKind.SYSTEM,
                retryable=True,
            )
        first = dataclasses.replace(ctx, state={})
        transition = self.processes.handle(self._process_context(first, {}, runtime.address))
        return self._wrap(ctx, user, transition, runtime.address, runtime)

    def abort(self, ctx: TaskContext) -> None:
        """Kill the driver's process group, and the runtime's processes unless another attempt uses it."""
        if ctx.state.get("process") is not None:
            self.processes.abort(self._process_context(ctx, ctx.state["process"], str(ctx.state["address"])))
        self._release(ctx, abort=True)

    def finalize(self, ctx: TaskContext) -> None:
        """Release the runtime and remove the attempt's folder."""
        if ctx.state.get("process") is not None:
            self.processes.finalize(
                self._process_context(ctx, ctx.state["process"], str(ctx.state["address"]))
            )
        self._release(ctx, abort=False)

    def close(self) -> None:
        """Stop every runtime, and the local-process handler's warm servers if warm processes were switched on."""
        self.pool.close()
        self.processes.close()

    def shape(self, ctx: TaskContext) -> RuntimeShape:
        """The runtime an attempt needs: CPUs and memory from the task's limits (else requests)."""
        resources: dict[str, str] = {}
        given = ctx.task.container.resources
        for entries in (given.requests, given.limits):  # limits win
            for entry in entries:
                if entry.name == _CPU:
                    resources["cpu"] = entry.value
                elif entry.name == _MEMORY:
                    resources["memory"] = entry.value
        settings = self.settings
        custom = MessageToDict(ctx.task.custom) if ctx.task.HasField("custom") else {}
        head = (custom.get("rayCluster") or {}).get("headGroupSpec") or {}
        params = {str(k): str(v) for k, v in (head.get("rayStartParams") or {}).items()}
        try:
            shape = shape_for(
                resources,
                default_cpus=settings.default_cpus or os.cpu_count() or 1,
                default_object_store=settings.default_object_store_memory,
                object_store_fraction=settings.object_store_fraction,
                ray=self._ray_command(ctx),
                head_params=params,
                include_dashboard=settings.include_dashboard,
            )
        except ValueError as exc:
            raise ValueError(f"its resources cannot bound a Ray runtime: {exc}") from None
        if settings.max_cpus and shape.num_cpus > settings.max_cpus:
            shape = dataclasses.replace(shape, num_cpus=settings.max_cpus)
        return shape

    def _ray_command(self, ctx: TaskContext) -> str:
        environment = self.settings.image_environments.get(ctx.task.container.image)
        if environment is not None:
            return str(Path(environment) / "bin" / "ray")
        return str(Path(sys.executable).parent / "ray")

    def _process_context(self, ctx: TaskContext, state: Mapping[str, Any], address: str) -> TaskContext:
        return dataclasses.replace(ctx, state=state, environment={**ctx.environment, "RAY_ADDRESS": address})

    def _wrap(
        self,
        ctx: TaskContext,
        user: str,
        transition: Transition,
        address: str,
        runtime: RayRuntime | None = None,
    ) -> Transition:
        runtime = runtime or self.pool.holder(user)
        runtime_state = _runtime_state(runtime) if runtime is not None else ctx.state.get("runtime", {})
        state = None
        if transition.state is not None:
            state = {"process": dict(transition.state), "address": address, "runtime": runtime_state}
        logs = transition.logs
        dashboard = runtime_state.get("dashboard")
        if dashboard:
            logs = (*logs, TaskLog("Ray dashboard", str(dashboard)))
        if transition.phase in (TaskPhase.SUCCESS, TaskPhase.RETRYABLE_FAILURE, TaskPhase.PERMANENT_FAILURE):
            self.pool.release(user)
        return dataclasses.replace(transition, state=state, logs=logs)

    def _release(self, ctx: TaskContext, *, abort: bool) -> None:
        user = _attempt_key(ctx)
        self._stop_foreign_runtime(ctx, user)
        self.pool.release(user, stop_if_alone=abort)

    def _stop_foreign_runtime(self, ctx: TaskContext, user: str) -> None:
        """Stop the runtime the attempt's state names when it is a previous engine's (the attempt outlived a
        restart; a closing pool leaves the runtimes attempts run on): no new attempt joins it. Its folder is
        removed too, as :meth:`RayRuntime.stop` removes those of the pool's own runtimes."""
        runtime = ctx.state.get("runtime") or {}
        session = runtime.get("session")
        if self.pool.holder(user) is not None or not isinstance(session, int) or self._known(session):
            return
        if session_processes(session):
            kill_session(session)
        folder = runtime.get("folder")
        if isinstance(folder, str) and folder:
            shutil.rmtree(folder, ignore_errors=True)

    def _known(self, session: int) -> bool:
        return any(r.session == session for r in self.pool.runtimes())


def _runtime_state(runtime: RayRuntime) -> dict[str, Any]:
    return {"session": runtime.session, "folder": str(runtime.temp_dir), "dashboard": runtime.dashboard}


def _attempt_key(ctx: TaskContext) -> str:
    execution = ctx.task_execution_id.node_execution_id.execution_id
    identity = "\0".join(
        [
            execution.project,
            execution.domain,
            execution.name,
            ctx.node_id,
            str(ctx.attempt),
            ctx.output_prefix,
        ]
    )
    return hashlib.sha256(identity.encode()).hexdigest()[:24]
