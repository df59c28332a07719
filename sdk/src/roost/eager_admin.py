"""The children of an eager workflow on the server: executions the task's process creates through the admin.

The process finds the admin through ``ROOST_ENDPOINT`` (or the client config file) and registers what it
awaits under its own project, domain, version and code archive (the serialization settings its template
carries), which is idempotent: registering the same content again is fine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc
from flyteidl.admin import execution_pb2 as admin_execution
from flyteidl.admin import launch_plan_pb2, task_pb2, workflow_pb2
from flyteidl.core import execution_pb2, identifier_pb2, literals_pb2

from roost.errors import RemoteError, WorkflowDefinitionError
from roost.serialize import SerializationSettings, Serializer

if TYPE_CHECKING:
    from roost.context import TaskRunContext
    from roost.entity import Entity
    from roost.remote.client import RemoteClient


class AdminChildren:
    """Creates, follows and terminates child executions through the admin's gRPC API."""

    poll_interval = 0.5

    def __init__(self, client: RemoteClient, settings: SerializationSettings) -> None:
        self._client = client
        self._settings = settings

    @classmethod
    def for_task(cls, ctx: TaskRunContext) -> AdminChildren:
        """The admin of the task process running ``ctx``, with the settings the eager task was registered with."""
        from roost.remote.client import RemoteClient
        from roost.remote.config import ClientConfig

        if ctx.serialization is None:
            raise WorkflowDefinitionError(
                f"eager workflow {ctx.task_name!r} runs outside a local run without its serialization settings; "
                "register it (roost register / roost run --remote) so that its children can be registered too"
            )
        return cls(RemoteClient(ClientConfig.load()), ctx.serialization)

    def _id(self, name: str) -> identifier_pb2.WorkflowExecutionIdentifier:
        return identifier_pb2.WorkflowExecutionIdentifier(
            project=self._settings.project, domain=self._settings.domain, name=name
        )

    def _execution(self, name: str) -> admin_execution.Execution | None:
        try:
            found: admin_execution.Execution = self._client.execution(self._id(name))
        except RemoteError as exc:
            if getattr(exc, "code", None) is grpc.StatusCode.NOT_FOUND:
                return None
            raise
        return found

    def phase(self, name: str) -> str | None:
        """The child's phase name as the admin reports it, None if it does not exist."""
        found = self._execution(name)
        if found is None:
            return None
        phase: str = execution_pb2.WorkflowExecution.Phase.Name(found.closure.phase)
        return phase

    def launch(self, name: str, entity: Entity, inputs: literals_pb2.LiteralMap, parent: str) -> None:
        """Register ``entity`` (and what it uses), then create the execution ``name``."""
        from roost.tasks import Task
        from roost.workflows import Workflow

        serializer = Serializer(self._settings)
        if isinstance(entity, Task):
            target = serializer.task(entity).id
        elif isinstance(entity, Workflow):
            from roost.launch_plan import LaunchPlan

            target = serializer.launch_plan(LaunchPlan.get_or_create(entity)).id
        else:
            raise WorkflowDefinitionError(f"an eager workflow cannot await {entity.label}")
        self._register(serializer)
        try:
            self._client.launch(target, inputs, name=name)
        except RemoteError as exc:
            if getattr(exc, "code", None) is not grpc.StatusCode.ALREADY_EXISTS:
                raise  # a parent that died after launching finds its child already there

    def _register(self, serializer: Serializer) -> None:
        for template in serializer.tasks.values():
            request = task_pb2.TaskCreateRequest(id=template.id, spec=task_pb2.TaskSpec(template=template))
            self._client.create("task", request)
        for name, template in serializer.workflows.items():
            subs = [t for n, t in serializer.workflows.items() if n != name]
            spec = workflow_pb2.WorkflowSpec(template=template, sub_workflows=subs)
            self._client.create("workflow", workflow_pb2.WorkflowCreateRequest(id=template.id, spec=spec))
        for lp in serializer.launch_plans.values():
            self._client.create(
                "launch plan", launch_plan_pb2.LaunchPlanCreateRequest(id=lp.id, spec=lp.spec)
            )

    def outputs(self, name: str) -> literals_pb2.LiteralMap:
        """A succeeded child's outputs."""
        outputs: literals_pb2.LiteralMap = self._client.execution_data(self._id(name)).full_outputs
        return outputs

    def error(self, name: str) -> str:
        """Why the child did not succeed."""
        found = self._execution(name)
        if found is None:
            return "the execution is gone"
        closure = found.closure
        return closure.error.message or closure.abort_metadata.cause or "no error was recorded"

    def abort(self, name: str, cause: str) -> None:
        """Terminate the child."""
        self._client.terminate(self._id(name), cause)
