"""Node and task executions as FlyteRemote reads them: top-level nodes paged by created_at, children of parent
nodes, task attempts with their data, dynamic workflows, and child executions of launch-plan nodes."""

from __future__ import annotations

import json

import grpc
from execution_support import (
    DOMAIN,
    PROJECT,
    create_request,
    fails,
    launch,
    literal,
    outputs,
    running_admin,
    wait,
)
from flyteidl.admin import common_pb2, execution_pb2, node_execution_pb2, task_execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2

Phase = core_execution_pb2.WorkflowExecution
NodePhase = core_execution_pb2.NodeExecution
TaskPhase = core_execution_pb2.TaskExecution
ASCENDING = common_pb2.Sort(key="created_at", direction=common_pb2.Sort.ASCENDING)


def nodes(admin, ident, parent: str = "") -> list[node_execution_pb2.NodeExecution]:
    """Every node execution, paged as FlyteRemote pages them (limit 100, created_at ascending)."""
    found: list[node_execution_pb2.NodeExecution] = []
    token = ""
    while True:
        page = admin.ListNodeExecutions(
            node_execution_pb2.NodeExecutionListRequest(
                workflow_execution_id=ident,
                limit=100,
                token=token,
                sort_by=ASCENDING,
                unique_parent_id=parent,
            )
        )
        found.extend(page.node_executions)
        token = page.token
        if not token:
            return found


def tasks(admin, node_id) -> list[task_execution_pb2.TaskExecution]:
    return list(
        admin.ListTaskExecutions(
            task_execution_pb2.TaskExecutionListRequest(
                node_execution_id=node_id, limit=100, sort_by=ASCENDING
            )
        ).task_executions
    )


def test_nodes_and_task_attempts_of_a_workflow(tmp_path, database_url):
    with running_admin(tmp_path, database_url) as (_, admin, _signals):
        ident = launch(admin, "pair", x=3, y=4)
        assert wait(admin, ident).closure.phase == Phase.SUCCEEDED
        everything = nodes(admin, ident)
        assert [n.id.node_id for n in everything] == ["start-node", "n0", "n1", "end-node"]
        start, listed, end = everything[0], everything[1:3], everything[3]
        # As flyteadmin records them from propeller's events: the start node's outputs are the workflow's
        # inputs, the end node's inputs its outputs; both succeeded, neither ran a task.
        for bookend in (start, end):
            assert bookend.closure.phase == NodePhase.SUCCEEDED
            assert bookend.metadata.spec_node_id == bookend.id.node_id
            assert not tasks(admin, bookend.id)
        start_data = admin.GetNodeExecutionData(node_execution_pb2.NodeExecutionGetDataRequest(id=start.id))
        assert not start_data.full_inputs.literals
        assert start_data.full_outputs.literals == {"x": literal(3), "y": literal(4)}
        end_data = admin.GetNodeExecutionData(node_execution_pb2.NodeExecutionGetDataRequest(id=end.id))
        assert end_data.full_inputs.literals == {"o0": literal(4), "o1": literal(8)}
        assert not end_data.full_outputs.literals
        for node in listed:
            assert node.closure.phase == NodePhase.SUCCEEDED
            assert node.metadata.spec_node_id == node.id.node_id
            assert not node.metadata.is_parent_node and not node.metadata.is_dynamic
            assert node.closure.started_at.seconds and node.closure.output_uri
            assert node.closure.HasField("task_node_metadata")
        got = admin.GetNodeExecution(node_execution_pb2.NodeExecutionGetRequest(id=listed[1].id))
        assert got == listed[1]
        node_data = admin.GetNodeExecutionData(
            node_execution_pb2.NodeExecutionGetDataRequest(id=listed[1].id)
        )
        assert node_data.full_inputs.literals["x"] == literal(4)
        assert node_data.full_outputs.literals["o0"] == literal(8)
        assert not node_data.HasField("dynamic_workflow")
        attempts = tasks(admin, listed[1].id)
        assert len(attempts) == 1
        attempt = attempts[0]
        assert attempt.id.task_id.name == "execution_flows.double"
        assert attempt.id.retry_attempt == 0
        assert attempt.closure.phase == TaskPhase.SUCCEEDED
        assert attempt.closure.task_type == "python-task"
        assert [log.name for log in attempt.closure.logs] == ["stdout", "stderr"]
        assert attempt.closure.duration.ToNanoseconds() > 0
        assert admin.GetTaskExecution(task_execution_pb2.TaskExecutionGetRequest(id=attempt.id)) == attempt
        task_data = admin.GetTaskExecutionData(task_execution_pb2.TaskExecutionGetDataRequest(id=attempt.id))
        assert task_data.full_inputs.literals["x"] == literal(4)
        assert task_data.full_outputs.literals["o0"] == literal(8)
        error = fails(
            admin.GetDynamicNodeWorkflow, node_execution_pb2.GetDynamicNodeWorkflowRequest(id=listed[1].id)
        )
        assert (error.code(), error.details()) == (
            grpc.StatusCode.NOT_FOUND,
            f"node execution 'n1' of execution {PROJECT}/{DOMAIN}/{ident.name} did not generate a dynamic workflow",
        )


def test_a_dynamic_node_lists_its_generated_nodes_and_workflow(tmp_path, database_url):
    with running_admin(tmp_path, database_url) as (_, admin, _signals):
        ident = launch(admin, "dyn", n=3)
        assert wait(admin, ident).closure.phase == Phase.SUCCEEDED
        assert outputs(admin, ident) == {"o0": 3}
        _start, fan, _end = nodes(admin, ident)
        assert fan.metadata.is_parent_node and fan.metadata.is_dynamic
        children = nodes(admin, ident, parent=fan.id.node_id)
        assert [c.id.node_id for c in children] == [
            "n0-0-start-node",
            "n0-0-dn0",
            "n0-0-dn1",
            "n0-0-dn2",
            "n0-0-end-node",
        ]
        assert [c.metadata.spec_node_id for c in children] == ["start-node", "dn0", "dn1", "dn2", "end-node"]
        assert all(c.metadata.retry_group == "0" for c in children)
        fan_data = admin.GetNodeExecutionData(node_execution_pb2.NodeExecutionGetDataRequest(id=fan.id))
        generated = fan_data.dynamic_workflow.compiled_workflow
        assert fan_data.dynamic_workflow.id == generated.primary.template.id
        assert sorted(n.id for n in generated.primary.template.nodes) == [
            "dn0",
            "dn1",
            "dn2",
            "end-node",
            "start-node",
        ]
        workflow = admin.GetDynamicNodeWorkflow(node_execution_pb2.GetDynamicNodeWorkflowRequest(id=fan.id))
        assert workflow.compiled_workflow == generated
        (attempt,) = tasks(admin, fan.id)
        assert attempt.is_parent
        spawned = admin.ListNodeExecutionsForTask(
            node_execution_pb2.NodeExecutionForTaskListRequest(task_execution_id=attempt.id, limit=100)
        ).node_executions
        assert [n.id.node_id for n in spawned] == [c.id.node_id for c in children]


def test_a_launch_plan_node_runs_a_child_execution(tmp_path, database_url):
    with running_admin(tmp_path, database_url) as (_, admin, _signals):
        ident = launch(admin, "parent", x=4)
        assert wait(admin, ident).closure.phase == Phase.SUCCEEDED
        assert outputs(admin, ident) == {"o0": 10}
        _start, launched, doubled, _end = nodes(admin, ident)
        child_id = launched.closure.workflow_node_metadata.executionId
        assert child_id.project == PROJECT and child_id.domain == DOMAIN and child_id.name
        child = admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=child_id))
        assert child.closure.phase == Phase.SUCCEEDED
        assert child.spec.launch_plan.name == "execution_flows.one_lp"
        assert child.spec.metadata.mode == execution_pb2.ExecutionMetadata.CHILD_WORKFLOW
        assert child.spec.metadata.nesting == 1
        assert child.spec.metadata.parent_node_execution == identifier_pb2.NodeExecutionIdentifier(
            node_id="n0", execution_id=ident
        )
        assert outputs(admin, child_id) == {"o0": 5}
        assert doubled.closure.phase == NodePhase.SUCCEEDED


def test_node_and_task_lookups_name_what_is_missing(tmp_path, database_url):
    with running_admin(tmp_path, database_url, workers=0) as (_, admin, _signals):
        ident = launch(admin, "one", x=1)
        missing = identifier_pb2.NodeExecutionIdentifier(node_id="n7", execution_id=ident)
        error = fails(admin.GetNodeExecution, node_execution_pb2.NodeExecutionGetRequest(id=missing))
        assert (error.code(), error.details()) == (
            grpc.StatusCode.NOT_FOUND,
            f"node execution 'n7' of execution {PROJECT}/{DOMAIN}/{ident.name} does not exist",
        )
        error = fails(
            admin.ListNodeExecutions,
            node_execution_pb2.NodeExecutionListRequest(
                workflow_execution_id=ident, limit=10, unique_parent_id="n7"
            ),
        )
        assert error.code() == grpc.StatusCode.NOT_FOUND
        assert nodes(admin, ident) == []
        error = fails(
            admin.ListNodeExecutions, node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=ident)
        )
        assert (error.code(), error.details()) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            "limit must be between 1 and 10000, not 0",
        )
        error = fails(
            admin.GetTaskExecution,
            task_execution_pb2.TaskExecutionGetRequest(
                id=identifier_pb2.TaskExecutionIdentifier(node_execution_id=missing)
            ),
        )
        assert (error.code(), error.details()) == (grpc.StatusCode.INVALID_ARGUMENT, "id.task_id is required")


def test_a_child_execution_inherits_what_propeller_passes_on(tmp_path, database_url):
    with running_admin(tmp_path, database_url) as (app, admin, _signals):
        request = create_request(lp="parent", x=4)
        spec = request.spec
        spec.labels.values["team"] = "ml"
        spec.annotations.values["owner"] = "ana"
        spec.raw_output_data_config.output_location_prefix = (tmp_path / "raw").as_uri()
        spec.max_parallelism = 3
        spec.interruptible.value = True
        spec.overwrite_cache = True
        spec.envs.values.add(key="STAGE", value="test")
        ident = admin.CreateExecution(request).id
        assert wait(admin, ident).closure.phase == Phase.SUCCEEDED
        launched = next(n for n in nodes(admin, ident) if n.metadata.spec_node_id == "n0")
        child_id = launched.closure.workflow_node_metadata.executionId
        child = admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=child_id)).spec
        assert dict(child.labels.values) == {"team": "ml"}
        assert dict(child.annotations.values) == {"owner": "ana"}
        assert child.raw_output_data_config == spec.raw_output_data_config
        assert child.max_parallelism == 3
        assert child.interruptible.value is True
        assert child.overwrite_cache is True
        assert [(p.key, p.value) for p in child.envs.values] == [("STAGE", "test")]
        # ... and the child's engine runs with them.
        assert app.workers is not None
        state = app.workers.engine.state_store.load(f"{PROJECT}/{DOMAIN}/{child_id.name}")
        assert state is not None
        assert state.raw_output_prefix.startswith((tmp_path / "raw").as_uri())
        assert {k: state.options[k] for k in ("max_parallelism", "interruptible", "overwrite_cache")} == {
            "max_parallelism": 3,
            "interruptible": True,
            "overwrite_cache": True,
        }
        assert (state.options["environment"], state.options["labels"]) == ({"STAGE": "test"}, {"team": "ml"})


def test_the_cli_names_nodes_by_what_they_run(tmp_path, database_url):
    from click.testing import CliRunner

    from roost.cli import main

    with running_admin(tmp_path, database_url) as (app, admin, _signals):
        ident = launch(admin, "pair", x=3, y=4)
        assert wait(admin, ident).closure.phase == Phase.SUCCEEDED
        env = {
            "ROOST_ENDPOINT": f"127.0.0.1:{app.grpc_port}",
            "ROOST_CLIENT_CONFIG": str(tmp_path / "client.yaml"),
            "ROOST_PROJECT": PROJECT,
            "ROOST_DOMAIN": DOMAIN,
        }
        result = CliRunner().invoke(main, ["get", "execution", ident.name, "--nodes", "-o", "json"], env=env)
        assert result.exit_code == 0, result.output
        rows = json.loads(result.output)
        assert [(row["node"], row["name"], row["phase"]) for row in rows] == [
            ("n0", "add_one", "SUCCEEDED"),
            ("n1", "double", "SUCCEEDED"),
        ]
