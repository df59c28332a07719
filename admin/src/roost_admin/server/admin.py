"""flyteidl's AdminService over gRPC: each RPC calls one operation of the admin's services."""

from __future__ import annotations

from typing import Any

import grpc
from flyteidl.admin import execution_pb2
from flyteidl.service import admin_pb2_grpc

from roost_admin.server.adapter import Servicer, Unary
from roost_admin.server.errors import answer
from roost_admin.services.recovery import RESUME_PLAN_TRAILER, ResumeRequest


class AdminService(Servicer, admin_pb2_grpc.AdminServiceServicer):  # type: ignore[misc]  # flyteidl is untyped
    """Every AdminService RPC Roost serves; the ones it does not serve answer UNIMPLEMENTED."""

    GetVersion = Unary("status", "get_version")
    # projects and domains
    RegisterProject = Unary("projects", "register_project")
    UpdateProject = Unary("projects", "update_project")
    GetProject = Unary("projects", "get_project")
    ListProjects = Unary("projects", "list_projects")
    GetDomains = Unary("projects", "get_domains")
    # matchable attributes
    UpdateProjectAttributes = Unary("attributes", "update_project_attributes")
    GetProjectAttributes = Unary("attributes", "get_project_attributes")
    DeleteProjectAttributes = Unary("attributes", "delete_project_attributes")
    UpdateProjectDomainAttributes = Unary("attributes", "update_project_domain_attributes")
    GetProjectDomainAttributes = Unary("attributes", "get_project_domain_attributes")
    DeleteProjectDomainAttributes = Unary("attributes", "delete_project_domain_attributes")
    UpdateWorkflowAttributes = Unary("attributes", "update_workflow_attributes")
    GetWorkflowAttributes = Unary("attributes", "get_workflow_attributes")
    DeleteWorkflowAttributes = Unary("attributes", "delete_workflow_attributes")
    ListMatchableAttributes = Unary("attributes", "list_matchable_attributes")
    # registry
    CreateTask = Unary("registry", "create_task")
    GetTask = Unary("registry", "get_task")
    ListTasks = Unary("registry", "list_tasks")
    ListTaskIds = Unary("registry", "list_task_ids")
    CreateWorkflow = Unary("registry", "create_workflow")
    GetWorkflow = Unary("registry", "get_workflow")
    ListWorkflows = Unary("registry", "list_workflows")
    ListWorkflowIds = Unary("registry", "list_workflow_ids")
    CreateLaunchPlan = Unary("registry", "create_launch_plan")
    GetLaunchPlan = Unary("registry", "get_launch_plan")
    GetActiveLaunchPlan = Unary("registry", "get_active_launch_plan")
    ListActiveLaunchPlans = Unary("registry", "list_active_launch_plans")
    ListLaunchPlans = Unary("registry", "list_launch_plans")
    ListLaunchPlanIds = Unary("registry", "list_launch_plan_ids")
    UpdateLaunchPlan = Unary("registry", "update_launch_plan")
    ListNamedEntities = Unary("registry", "list_named_entities")
    GetNamedEntity = Unary("registry", "get_named_entity")
    UpdateNamedEntity = Unary("registry", "update_named_entity")
    GetDescriptionEntity = Unary("registry", "get_description_entity")
    ListDescriptionEntities = Unary("registry", "list_description_entities")
    # executions
    CreateExecution = Unary("executions", "create_execution")
    RelaunchExecution = Unary("executions", "relaunch_execution")
    GetExecution = Unary("executions", "get_execution")
    ListExecutions = Unary("executions", "list_executions")
    GetExecutionData = Unary("executions", "get_execution_data")
    TerminateExecution = Unary("executions", "terminate_execution")

    def RecoverExecution(  # flyteidl's RPC name
        self, request: execution_pb2.ExecutionRecoverRequest, context: grpc.ServicerContext
    ) -> Any:
        """Recover an ended execution; with Roost's resume headers, resume it on another version
        (:mod:`roost_admin.services.recovery`)."""
        try:
            resume = ResumeRequest.from_metadata(context.invocation_metadata() or ())
            result = self.services.recovery.recover_execution(request, resume)
        except Exception as exc:  # every failure gets a proper status, never grpc's UNKNOWN
            answer(context, "RecoverExecution", exc)
            raise  # answer() aborts the call; this line is never reached
        if result.plan:
            context.set_trailing_metadata(((RESUME_PLAN_TRAILER, result.plan),))
        return result.response

    UpdateExecution = Unary("executions", "update_execution")
    GetExecutionMetrics = Unary("metrics", "get_execution_metrics")
    # node and task executions
    GetNodeExecution = Unary("nodes", "get_node_execution")
    ListNodeExecutions = Unary("nodes", "list_node_executions")
    ListNodeExecutionsForTask = Unary("nodes", "list_node_executions_for_task")
    GetNodeExecutionData = Unary("nodes", "get_node_execution_data")
    GetDynamicNodeWorkflow = Unary("nodes", "get_dynamic_node_workflow")
    GetTaskExecution = Unary("nodes", "get_task_execution")
    ListTaskExecutions = Unary("nodes", "list_task_executions")
    GetTaskExecutionData = Unary("nodes", "get_task_execution_data")
    # events
    CreateWorkflowEvent = Unary("events", "create_workflow_event")
    CreateNodeEvent = Unary("events", "create_node_event")
    CreateTaskEvent = Unary("events", "create_task_event")
