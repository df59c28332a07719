"""A client of a Roost (or Flyte) admin over flyteidl's gRPC services.

Failed calls raise :class:`~roost.errors.RemoteError` naming the call and carrying the admin's status and
message. Calls that flytekit retries (UNAVAILABLE) are retried here too, a few times with backoff.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import ssl
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
from flyteidl.admin import (
    common_pb2,
    execution_pb2,
    launch_plan_pb2,
    matchable_resource_pb2,
    node_execution_pb2,
    project_pb2,
    signal_pb2,
    task_execution_pb2,
    task_pb2,
    workflow_pb2,
)
from flyteidl.core import identifier_pb2, literals_pb2
from flyteidl.service import admin_pb2_grpc, dataproxy_pb2, dataproxy_pb2_grpc, signal_pb2_grpc

from roost.errors import RemoteError
from roost.remote.config import ClientConfig

if TYPE_CHECKING:
    from roost.remote.attributes import AttributeScope

T = TypeVar("T")
_RETRIED = (grpc.StatusCode.UNAVAILABLE,)
_TERMINAL = {"SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"}
_PAGE = 100


def open_channel(config: ClientConfig) -> grpc.Channel:
    """A channel to the admin: plaintext, or TLS trusting ``ca_cert_file`` (or the system's CAs)."""
    options = [("grpc.max_receive_message_length", 20 * 1024 * 1024), ("grpc.keepalive_time_ms", 30_000)]
    if config.insecure:
        return grpc.insecure_channel(config.target, options=options)
    roots = Path(config.ca_cert_file).read_bytes() if config.ca_cert_file else None
    return grpc.secure_channel(
        config.target, grpc.ssl_channel_credentials(root_certificates=roots), options=options
    )


class RemoteClient:
    """Stubs of the admin's services, with the calls the CLI makes."""

    def __init__(self, config: ClientConfig | None = None) -> None:
        self.config = config or ClientConfig.load()
        from roost.remote.auth import AuthInterceptor, Credentials

        self.raw_channel = open_channel(self.config)
        self.credentials = Credentials(self.config, self.raw_channel)
        self.channel = grpc.intercept_channel(self.raw_channel, AuthInterceptor(self.credentials))
        self.admin = admin_pb2_grpc.AdminServiceStub(self.channel)
        self.dataproxy = dataproxy_pb2_grpc.DataProxyServiceStub(self.channel)
        self.signals = signal_pb2_grpc.SignalServiceStub(self.channel)

    def close(self) -> None:
        """Close the channel."""
        self.raw_channel.close()

    def __enter__(self) -> RemoteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, name: str, method: Callable[..., T], request: Any, *, retries: int = 3) -> T:
        """Call ``method`` with ``request``; errors name the call and carry the admin's message."""
        wait = 0.2
        for attempt in range(retries + 1):
            try:
                return method(request, timeout=60)
            except grpc.RpcError as exc:
                code = exc.code()
                if code in _RETRIED and attempt < retries:
                    time.sleep(wait)
                    wait *= 2
                    continue
                hint = " (log in with `roost login`)" if code == grpc.StatusCode.UNAUTHENTICATED else ""
                error = RemoteError(
                    f"{name} failed at {self.config.endpoint}: {code.name}: {exc.details()}{hint}"
                )
                error.code = code  # type: ignore[attr-defined]
                raise error from None
        raise AssertionError("unreachable")

    # uploads

    def upload(self, project: str, domain: str, path: Path) -> str:
        """Upload a file through the DataProxy (signed PUT with Content-MD5); returns its native URL."""
        return self.upload_bytes(project, domain, path.read_bytes(), filename=path.name)

    def upload_bytes(
        self, project: str, domain: str, data: bytes, *, filename: str, filename_root: str = ""
    ) -> str:
        """Upload ``data`` as ``filename`` through the DataProxy; returns its native URL. The admin files it
        under the content's MD5, or under ``filename_root`` when given (how the files of one folder share a
        folder: ``filename`` may then hold ``/``)."""
        md5 = hashlib.md5(data, usedforsecurity=False).digest()
        location = self.call(
            "CreateUploadLocation",
            self.dataproxy.CreateUploadLocation,
            dataproxy_pb2.CreateUploadLocationRequest(
                project=project,
                domain=domain,
                filename=filename,
                filename_root=filename_root,
                content_md5=md5,
                add_content_md5_metadata=True,
            ),
        )
        headers = {
            "Content-Length": str(len(data)),
            "Content-MD5": base64.b64encode(md5).decode(),
            **dict(location.headers),
        }
        request = urllib.request.Request(location.signed_url, data=data, method="PUT", headers=headers)
        context = None
        if location.signed_url.startswith("https:") and self.config.ca_cert_file:
            context = ssl.create_default_context(cafile=self.config.ca_cert_file)
        try:
            with urllib.request.urlopen(request, timeout=300, context=context) as response:
                status = response.status
        except OSError as exc:
            raise RemoteError(f"uploading {filename} to {location.signed_url} failed: {exc}") from None
        if status not in (200, 201):
            raise RemoteError(f"uploading {filename} failed with HTTP {status}")
        return str(location.native_url)

    # registration

    def create(self, kind: str, message: Any) -> None:
        """Register a task, workflow or launch plan (registering the same content again is fine)."""
        method = {
            "task": self.admin.CreateTask,
            "workflow": self.admin.CreateWorkflow,
            "launch plan": self.admin.CreateLaunchPlan,
        }[kind]
        self.call(f"Create {kind} {message.id.name}@{message.id.version}", method, message, retries=1)

    def set_launch_plan_state(self, lp_id: identifier_pb2.Identifier, active: bool) -> None:
        """Activate or deactivate a launch plan version."""
        state = launch_plan_pb2.ACTIVE if active else launch_plan_pb2.INACTIVE
        self.call(
            "UpdateLaunchPlan",
            self.admin.UpdateLaunchPlan,
            launch_plan_pb2.LaunchPlanUpdateRequest(id=lp_id, state=state),
        )

    # executions

    def launch(
        self,
        lp_id: identifier_pb2.Identifier,
        inputs: Any,
        *,
        name: str = "",
        project: str = "",
        domain: str = "",
    ) -> identifier_pb2.WorkflowExecutionIdentifier:
        """Start an execution of a launch plan."""
        spec = execution_pb2.ExecutionSpec(
            launch_plan=lp_id, metadata=execution_pb2.ExecutionMetadata(principal="roost")
        )
        response = self.call(
            "CreateExecution",
            self.admin.CreateExecution,
            execution_pb2.ExecutionCreateRequest(
                project=project or lp_id.project,
                domain=domain or lp_id.domain,
                name=name,
                spec=spec,
                inputs=inputs,
            ),
        )
        return response.id

    def execution(self, execution_id: identifier_pb2.WorkflowExecutionIdentifier) -> execution_pb2.Execution:
        """The execution as the admin sees it now."""
        return self.call(
            "GetExecution",
            self.admin.GetExecution,
            execution_pb2.WorkflowExecutionGetRequest(id=execution_id),
        )

    def execution_signals(
        self, execution_id: identifier_pb2.WorkflowExecutionIdentifier
    ) -> list[signal_pb2.Signal]:
        """Every signal of an execution (its gates' and its tasks'), set or waiting."""
        found: list[signal_pb2.Signal] = []
        token = ""
        while True:
            response = self.call(
                "ListSignals",
                self.signals.ListSignals,
                signal_pb2.SignalListRequest(workflow_execution_id=execution_id, limit=_PAGE, token=token),
            )
            found.extend(response.signals)
            token = response.token
            if not token:
                return found

    def set_signal(self, signal_id: identifier_pb2.SignalIdentifier, value: literals_pb2.Literal) -> None:
        """Give a waiting signal its value."""
        self.call("SetSignal", self.signals.SetSignal, signal_pb2.SignalSetRequest(id=signal_id, value=value))

    def notifications(self, execution_id: identifier_pb2.WorkflowExecutionIdentifier) -> list[dict[str, Any]]:
        """The notifications of an execution with each delivery's state, attempts and last error (Roost's own
        RPC beside flyteidl's: ``/roost.admin.RoostService/ListExecutionNotifications``)."""
        from google.protobuf import json_format, struct_pb2

        method = self.channel.unary_unary(
            "/roost.admin.RoostService/ListExecutionNotifications",
            request_serializer=execution_pb2.WorkflowExecutionGetRequest.SerializeToString,
            response_deserializer=struct_pb2.Struct.FromString,
        )
        answer = self.call(
            "ListExecutionNotifications", method, execution_pb2.WorkflowExecutionGetRequest(id=execution_id)
        )
        found: list[dict[str, Any]] = json_format.MessageToDict(answer).get("notifications", [])
        return found

    def execution_data(
        self, execution_id: identifier_pb2.WorkflowExecutionIdentifier
    ) -> execution_pb2.WorkflowExecutionGetDataResponse:
        """The execution's inputs and outputs."""
        return self.call(
            "GetExecutionData",
            self.admin.GetExecutionData,
            execution_pb2.WorkflowExecutionGetDataRequest(id=execution_id),
        )

    def node_executions(
        self, execution_id: identifier_pb2.WorkflowExecutionIdentifier, *, parent: str = ""
    ) -> list[node_execution_pb2.NodeExecution]:
        """Every node execution (of the top level, or under ``parent``), in creation order."""
        request = node_execution_pb2.NodeExecutionListRequest(
            workflow_execution_id=execution_id,
            limit=_PAGE,
            unique_parent_id=parent,
            sort_by=common_pb2.Sort(key="created_at", direction=common_pb2.Sort.ASCENDING),
        )
        return list(
            self._pages("ListNodeExecutions", self.admin.ListNodeExecutions, request, "node_executions")
        )

    def task_executions(self, node_execution_id: Any) -> list[task_execution_pb2.TaskExecution]:
        """The attempts of one node."""
        request = task_execution_pb2.TaskExecutionListRequest(
            node_execution_id=node_execution_id,
            limit=_PAGE,
            sort_by=common_pb2.Sort(key="created_at", direction=common_pb2.Sort.ASCENDING),
        )
        return list(
            self._pages("ListTaskExecutions", self.admin.ListTaskExecutions, request, "task_executions")
        )

    def wait(
        self,
        execution_id: identifier_pb2.WorkflowExecutionIdentifier,
        *,
        poll: float = 0.5,
        on_poll: Callable[[execution_pb2.Execution], None] | None = None,
        timeout: float | None = None,
    ) -> execution_pb2.Execution:
        """Poll until the execution ends; ``on_poll`` sees every state."""
        from flyteidl.core import execution_pb2 as core_execution

        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            found = self.execution(execution_id)
            if on_poll is not None:
                on_poll(found)
            if core_execution.WorkflowExecution.Phase.Name(found.closure.phase) in _TERMINAL:
                return found
            if deadline is not None and time.monotonic() > deadline:
                raise RemoteError(f"execution {execution_id.name} did not end within {timeout}s")
            time.sleep(poll)

    def terminate(self, execution_id: identifier_pb2.WorkflowExecutionIdentifier, cause: str) -> None:
        """Abort an execution."""
        self.call(
            "TerminateExecution",
            self.admin.TerminateExecution,
            execution_pb2.ExecutionTerminateRequest(id=execution_id, cause=cause),
        )

    def relaunch(
        self, execution_id: identifier_pb2.WorkflowExecutionIdentifier, name: str = ""
    ) -> identifier_pb2.WorkflowExecutionIdentifier:
        """Start the execution again with the same inputs."""
        response = self.call(
            "RelaunchExecution",
            self.admin.RelaunchExecution,
            execution_pb2.ExecutionRelaunchRequest(id=execution_id, name=name),
        )
        return response.id

    def recover(
        self,
        execution_id: identifier_pb2.WorkflowExecutionIdentifier,
        *,
        name: str = "",
        version: str = "",
        dry_run: bool = False,
    ) -> tuple[identifier_pb2.WorkflowExecutionIdentifier, list[dict[str, Any]]]:
        """Recover an ended execution (RecoverExecution); with ``version`` (or ``"latest"``), resume it on
        that version of its launch plan through Roost's resume headers. Returns the new execution's id (empty
        for a dry run) and, for a dry run, the plan: ``{"node", "reuse", "reason"}`` per node."""
        metadata = []
        if version:
            metadata.append(("roost-resume-version", version))
        if dry_run:
            metadata.append(("roost-resume-dry-run", "true"))
        response, call = self.call(
            "RecoverExecution",
            functools.partial(self.admin.RecoverExecution.with_call, metadata=metadata),
            execution_pb2.ExecutionRecoverRequest(id=execution_id, name=name),
        )
        trailing = dict(call.trailing_metadata() or ())
        plan = json.loads(trailing["roost-resume-plan"]) if "roost-resume-plan" in trailing else []
        return response.id, plan

    # listings

    def list(self, kind: str, project: str, domain: str, name: str = "", *, limit: int = 100) -> list[Any]:
        """Projects, tasks, workflows, launch plans or executions, newest first."""
        newest = common_pb2.Sort(key="created_at", direction=common_pb2.Sort.DESCENDING)
        if kind == "projects":
            request = project_pb2.ProjectListRequest(limit=limit)
            return list(self._pages("ListProjects", self.admin.ListProjects, request, "projects", cap=limit))
        if kind == "executions":
            filters = f"eq(launch_plan.name,{name})" if name else ""
            request = common_pb2.ResourceListRequest(
                id=common_pb2.NamedEntityIdentifier(project=project, domain=domain),
                limit=limit,
                sort_by=newest,
                filters=filters,
            )
            return list(
                self._pages("ListExecutions", self.admin.ListExecutions, request, "executions", cap=limit)
            )
        method, field = {
            "tasks": (self.admin.ListTasks, "tasks"),
            "workflows": (self.admin.ListWorkflows, "workflows"),
            "launchplans": (self.admin.ListLaunchPlans, "launch_plans"),
        }[kind]
        if name:
            request = common_pb2.ResourceListRequest(
                id=common_pb2.NamedEntityIdentifier(project=project, domain=domain, name=name),
                limit=limit,
                sort_by=newest,
            )
            return list(self._pages(f"List{field}", method, request, field, cap=limit))
        ids_method = {
            "tasks": self.admin.ListTaskIds,
            "workflows": self.admin.ListWorkflowIds,
            "launchplans": self.admin.ListLaunchPlanIds,
        }[kind]
        request = common_pb2.NamedEntityIdentifierListRequest(project=project, domain=domain, limit=limit)
        return list(self._pages(f"List{field}Ids", ids_method, request, "entities", cap=limit))

    def _pages(
        self, name: str, method: Callable[[Any], Any], request: Any, field: str, cap: int | None = None
    ) -> Iterator[Any]:
        count = 0
        while True:
            response = self.call(name, method, request)
            for item in getattr(response, field):
                yield item
                count += 1
                if cap is not None and count >= cap:
                    return
            if not response.token:
                return
            request.token = response.token

    def register_project(self, project_id: str, name: str = "", description: str = "") -> None:
        """Create a project."""
        self.call(
            "RegisterProject",
            self.admin.RegisterProject,
            project_pb2.ProjectRegisterRequest(
                project=project_pb2.Project(id=project_id, name=name or project_id, description=description)
            ),
        )

    def update_attributes(
        self, scope: AttributeScope, attributes: matchable_resource_pb2.MatchingAttributes
    ) -> None:
        """Set the attribute of its kind at ``scope`` (a project, a project and domain, or a workflow)."""
        from roost.remote.attributes import update_request

        name, request = update_request(scope, attributes)
        self.call(name, getattr(self.admin, name), request)

    def get_attributes(self, scope: AttributeScope, kind: int) -> matchable_resource_pb2.MatchingAttributes:
        """The attribute of ``kind`` (a ``MatchableResource``) set at exactly ``scope``."""
        from roost.remote.attributes import get_request

        name, request = get_request(scope, kind)
        response = self.call(name, getattr(self.admin, name), request)
        found: matchable_resource_pb2.MatchingAttributes = response.attributes.matching_attributes
        return found

    def delete_attributes(self, scope: AttributeScope, kind: int) -> None:
        """Remove the attribute of ``kind`` set at ``scope``."""
        from roost.remote.attributes import get_request

        name, request = get_request(scope, kind, "Delete")
        self.call(name, getattr(self.admin, name), request)

    def get_task(self, task_id: identifier_pb2.Identifier) -> task_pb2.Task:
        """A registered task."""
        return self.call("GetTask", self.admin.GetTask, common_pb2.ObjectGetRequest(id=task_id))

    def get_workflow(self, workflow_id: identifier_pb2.Identifier) -> workflow_pb2.Workflow:
        """A registered workflow."""
        return self.call("GetWorkflow", self.admin.GetWorkflow, common_pb2.ObjectGetRequest(id=workflow_id))
