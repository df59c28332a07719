"""Registering tasks, workflows and launch plans over gRPC, and reading them back as flytekit does."""

from __future__ import annotations

import grpc
import pytest
import registry_flows as flows
from flyteidl.admin import common_pb2, description_entity_pb2, launch_plan_pb2, task_pb2
from flyteidl.core import identifier_pb2, interface_pb2, literals_pb2, types_pb2

from roost_core.compiler import CompileError, compile_workflow

INT = types_pb2.LiteralType(simple=types_pb2.INTEGER)
STR = types_pb2.LiteralType(simple=types_pb2.STRING)


def fails(call, request) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call(request)
    return info.value


def get(kind: int, name: str, version: str = "v1") -> common_pb2.ObjectGetRequest:
    return common_pb2.ObjectGetRequest(
        id=identifier_pb2.Identifier(
            resource_type=kind, project=flows.PROJECT, domain=flows.DOMAIN, name=name, version=version
        )
    )


def integer(value: int) -> literals_pb2.Literal:
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=value)))


def test_workflow_closures_carry_every_task_sub_workflow_and_launch_plan(admin):
    serializer = flows.serialize()
    flows.register(admin, serializer)

    outer = admin.GetWorkflow(get(identifier_pb2.WORKFLOW, "registry_flows.outer")).closure.compiled_workflow
    assert outer.primary.template.id == serializer.workflows["registry_flows.outer"].id
    assert {n.id for n in outer.primary.template.nodes} >= {"start-node", "end-node"}
    assert [s.template.id.name for s in outer.sub_workflows] == ["registry_flows.inner"]
    assert sorted(t.template.id.name for t in outer.tasks) == [
        "registry_flows.add_one",
        "registry_flows.square",
    ]

    # The array node's sub-node and the branch's then/else nodes reference tasks flytekit must find in tasks[].
    mapped = admin.GetWorkflow(
        get(identifier_pb2.WORKFLOW, "registry_flows.mapped")
    ).closure.compiled_workflow
    assert sorted(t.template.id.name for t in mapped.tasks) == [
        "registry_flows.square",
        "registry_flows.total",
    ]
    branching = admin.GetWorkflow(get(identifier_pb2.WORKFLOW, "registry_flows.branching"))
    names = sorted(t.template.id.name for t in branching.closure.compiled_workflow.tasks)
    assert names == ["registry_flows.add_one", "registry_flows.square"]

    parent = admin.GetWorkflow(
        get(identifier_pb2.WORKFLOW, "registry_flows.parent")
    ).closure.compiled_workflow
    assert [p.template.id.name for p in parent.launch_plans] == ["registry_flows.inner_lp"]

    task = admin.GetTask(get(identifier_pb2.TASK, "registry_flows.fan"))
    assert task.closure.compiled_task.template == serializer.tasks["registry_flows.fan"]
    assert task.closure.created_at.seconds > 0

    # Responses for an id never change (flytekit caches them).
    again = admin.GetWorkflow(get(identifier_pb2.WORKFLOW, "registry_flows.outer")).closure.compiled_workflow
    assert again == outer


def test_template_ids_are_taken_from_the_request(admin):
    request = flows.task_requests(flows.serialize(flows.inner))[0]
    request.spec.template.id.Clear()  # as in `pyflyte package` output
    admin.CreateTask(request)
    task = admin.GetTask(common_pb2.ObjectGetRequest(id=request.id))
    assert task.closure.compiled_task.template.id == request.id


def test_registering_identical_content_again_succeeds(admin):
    serializer = flows.serialize()
    flows.register(admin, serializer)
    flows.register(admin, serializer)
    listed = admin.ListTasks(
        common_pb2.ResourceListRequest(
            id=common_pb2.NamedEntityIdentifier(project=flows.PROJECT, domain=flows.DOMAIN), limit=100
        )
    )
    assert len(listed.tasks) == len(serializer.tasks)


def test_other_content_under_a_registered_version_is_already_exists(admin):
    serializer = flows.serialize(flows.outer)
    flows.register(admin, serializer)

    task = flows.task_requests(serializer)[0]
    task.spec.template.container.image = "another:image"
    error = fails(admin.CreateTask, task)
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    assert error.details() == (
        f"task 'flytesnacks/development/{task.id.name}@v1' is already registered with different content; "
        "register the change under a new version"
    )

    workflow = flows.workflow_request(serializer, "registry_flows.outer")
    workflow.spec.template.metadata.on_failure = 1
    error = fails(admin.CreateWorkflow, workflow)
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    assert error.details() == (
        "workflow 'flytesnacks/development/registry_flows.outer@v1' is already registered with different "
        "content; register the change under a new version"
    )

    plan = flows.launch_plan_request(serializer.launch_plans["registry_flows.outer"])
    plan.spec.max_parallelism = 3
    error = fails(admin.CreateLaunchPlan, plan)
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    assert error.details() == (
        "launch plan 'flytesnacks/development/registry_flows.outer@v1' is already registered with different "
        "content; register the change under a new version"
    )


def test_a_workflow_that_does_not_compile_is_refused_with_every_compiler_message(admin):
    serializer = flows.serialize(flows.outer)
    for request in flows.task_requests(serializer):
        admin.CreateTask(request)
    request = flows.workflow_request(serializer, "registry_flows.outer")
    template = request.spec.template
    template.nodes[0].inputs[0].var = "nope"  # the task has no input 'nope' (and 'x' is left unbound)
    template.outputs[0].binding.promise.node_id = "ghost"  # the output comes from a node that does not exist

    error = fails(admin.CreateWorkflow, request)

    with pytest.raises(CompileError) as expected:
        compile_workflow(template, serializer.tasks.values(), request.spec.sub_workflows)
    issues = expected.value.errors
    assert len(issues) >= 3
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == (
        "workflow 'flytesnacks/development/registry_flows.outer@v1' does not compile:\n"
        + "\n".join(str(issue) for issue in issues)
    )
    assert fails(admin.GetWorkflow, get(identifier_pb2.WORKFLOW, "registry_flows.outer")).code() == (
        grpc.StatusCode.NOT_FOUND
    )


def test_a_workflow_whose_tasks_are_not_registered_is_refused_naming_them(admin):
    serializer = flows.serialize(flows.outer)
    error = fails(admin.CreateWorkflow, flows.workflow_request(serializer, "registry_flows.outer"))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == (
        "workflow 'flytesnacks/development/registry_flows.outer@v1' references task "
        "'flytesnacks/development/registry_flows.square@v1', task "
        "'flytesnacks/development/registry_flows.add_one@v1', which are not registered; register them first"
    )


def test_a_workflow_launching_an_unregistered_launch_plan_is_refused(admin):
    serializer = flows.serialize(flows.parent)
    for request in flows.task_requests(serializer):
        admin.CreateTask(request)
    error = fails(admin.CreateWorkflow, flows.workflow_request(serializer, "registry_flows.parent"))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == (
        "workflow 'flytesnacks/development/registry_flows.parent@v1' references launch plan "
        "'flytesnacks/development/registry_flows.inner_lp@v1', which is not registered; register it first"
    )


def test_a_task_without_a_type_or_with_untyped_variables_is_refused(admin):
    request = flows.task_requests(flows.serialize(flows.inner))[0]
    request.spec.template.type = ""
    error = fails(admin.CreateTask, request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (
        error.details()
        == "task 'flytesnacks/development/registry_flows.add_one@v1': template.type is required"
    )

    request.spec.template.type = "python-task"
    request.spec.template.interface.inputs.variables["x"].ClearField("type")
    error = fails(admin.CreateTask, request)
    assert (
        error.details() == "task 'flytesnacks/development/registry_flows.add_one@v1': input 'x' has no type"
    )


def test_launch_plan_closures_list_expected_inputs_and_outputs(admin):
    serializer = flows.serialize()
    flows.register(admin, serializer)

    plan = admin.GetLaunchPlan(get(identifier_pb2.LAUNCH_PLAN, "registry_flows.inner_lp"))
    assert plan.spec.workflow_id.name == "registry_flows.inner"
    assert plan.closure.state == launch_plan_pb2.INACTIVE
    assert plan.closure.expected_inputs.parameters["x"].default == integer(2)
    assert plan.spec.default_inputs == plan.closure.expected_inputs
    assert plan.closure.expected_outputs.variables["o0"].type == INT
    assert plan.closure.created_at == plan.closure.updated_at

    nightly = admin.GetLaunchPlan(get(identifier_pb2.LAUNCH_PLAN, "registry_flows.nightly"))
    assert dict(nightly.closure.expected_inputs.parameters) == {}
    assert nightly.spec.fixed_inputs.literals["x"] == integer(4)
    assert nightly.spec.entity_metadata.schedule.cron_schedule.schedule == "0 * * * *"


def test_workflow_inputs_a_launch_plan_leaves_out_become_required(admin):
    serializer = flows.serialize(flows.inner)
    flows.register(admin, serializer)
    request = flows.launch_plan_request(serializer.launch_plans["registry_flows.inner"])
    request.id.name = "registry_flows.bare"
    request.spec.default_inputs.Clear()
    admin.CreateLaunchPlan(request)
    plan = admin.GetLaunchPlan(common_pb2.ObjectGetRequest(id=request.id))
    parameter = plan.closure.expected_inputs.parameters["x"]
    assert parameter.required
    assert parameter.var.type == INT


def _parameter(literal_type: types_pb2.LiteralType, default: literals_pb2.Literal | None = None):
    if default is None:
        return interface_pb2.Parameter(var=interface_pb2.Variable(type=literal_type), required=True)
    return interface_pb2.Parameter(var=interface_pb2.Variable(type=literal_type), default=default)


STRING_LITERAL = literals_pb2.Literal(
    scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(string_value="a"))
)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda spec: spec.default_inputs.parameters["y"].CopyFrom(_parameter(INT, integer(1))),
            "default input 'y' is not an input of workflow 'flytesnacks/development/registry_flows.inner@v1' "
            "(inputs: x)",
        ),
        (
            lambda spec: spec.fixed_inputs.literals["y"].CopyFrom(integer(1)),
            "fixed input 'y' is not an input of workflow 'flytesnacks/development/registry_flows.inner@v1' "
            "(inputs: x)",
        ),
        (
            lambda spec: spec.default_inputs.parameters["x"].CopyFrom(_parameter(STR, STRING_LITERAL)),
            "default input 'x' has type str, but workflow 'flytesnacks/development/registry_flows.inner@v1' "
            "declares int",
        ),
        (
            lambda spec: spec.default_inputs.parameters["x"].CopyFrom(_parameter(INT, STRING_LITERAL)),
            "default input 'x': the default value does not match type int",
        ),
        (
            lambda spec: (
                spec.default_inputs.Clear(),
                spec.fixed_inputs.literals["x"].CopyFrom(STRING_LITERAL),
            ),
            "fixed input 'x': the value does not match type int",
        ),
        (
            lambda spec: spec.fixed_inputs.literals["x"].CopyFrom(integer(1)),
            "input 'x' is both fixed and defaulted; give it one or the other",
        ),
        (
            lambda spec: spec.default_inputs.parameters["x"].ClearField("default"),
            "default input 'x' has neither a default value nor required=true",
        ),
        (
            lambda spec: (
                spec.default_inputs.parameters["x"].CopyFrom(_parameter(INT)),
                spec.entity_metadata.schedule.cron_schedule.SetInParent(),
                setattr(spec.entity_metadata.schedule.cron_schedule, "schedule", "* * * * *"),
            ),
            "has a schedule, but its input 'x' is required: give it a default or fix it",
        ),
        (
            lambda spec: spec.default_inputs.parameters["x"].var.ClearField("type"),
            "default input 'x' has no type",
        ),
        (
            lambda spec: spec.default_inputs.parameters["x"].artifact_query.SetInParent(),
            "default input 'x': artifact inputs are not supported",
        ),
        (
            lambda spec: (
                setattr(spec.entity_metadata.schedule, "cron_expression", "0 * * * *"),
                setattr(spec.entity_metadata.schedule, "kickoff_time_input_arg", "when"),
            ),
            "spec.entity_metadata.schedule.kickoff_time_input_arg 'when' is not an unfixed input of the launch "
            "plan",
        ),
        (
            lambda spec: (
                spec.entity_metadata.schedule.rate.SetInParent(),
                setattr(spec.entity_metadata.schedule.rate, "value", 5),
                setattr(spec.entity_metadata.schedule, "kickoff_time_input_arg", "x"),
            ),
            "spec.entity_metadata.schedule.kickoff_time_input_arg 'x' must be a datetime input, not int",
        ),
        (lambda spec: spec.ClearField("workflow_id"), "spec.workflow_id is required"),
    ],
    ids=[
        "unknown-default",
        "unknown-fixed",
        "default-type",
        "default-value",
        "fixed-value",
        "fixed-and-default",
        "no-behavior",
        "schedule-required",
        "no-type",
        "artifact",
        "kickoff-unknown",
        "kickoff-type",
        "no-workflow-id",
    ],
)
def test_launch_plan_inputs_must_fit_the_workflow(admin, change, message):
    serializer = flows.serialize(flows.inner_lp)
    flows.register(admin, serializer)
    request = flows.launch_plan_request(serializer.launch_plans["registry_flows.inner_lp"])
    request.id.version = "v2"
    change(request.spec)
    error = fails(admin.CreateLaunchPlan, request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    prefix = "launch plan 'flytesnacks/development/registry_flows.inner_lp@v2'"
    separator = " " if message.startswith("has ") else ": "
    assert error.details() == f"{prefix}{separator}{message}"


def test_a_launch_plan_for_an_unregistered_workflow_is_refused(admin):
    serializer = flows.serialize(flows.inner_lp)
    error = fails(
        admin.CreateLaunchPlan, flows.launch_plan_request(serializer.launch_plans["registry_flows.inner_lp"])
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == (
        "launch plan 'flytesnacks/development/registry_flows.inner_lp@v1' is for workflow "
        "'flytesnacks/development/registry_flows.inner@v1', which is not registered"
    )


def _activate(admin, version: str, state: int = launch_plan_pb2.ACTIVE) -> None:
    admin.UpdateLaunchPlan(
        launch_plan_pb2.LaunchPlanUpdateRequest(
            id=get(identifier_pb2.LAUNCH_PLAN, "registry_flows.inner_lp", version).id, state=state
        )
    )


def test_activating_a_version_deactivates_the_others(admin):
    for version in ("v1", "v2"):
        flows.register(admin, flows.serialize(flows.inner_lp, version=version))
    active = launch_plan_pb2.ActiveLaunchPlanRequest(
        id=common_pb2.NamedEntityIdentifier(
            project=flows.PROJECT, domain=flows.DOMAIN, name="registry_flows.inner_lp"
        )
    )
    error = fails(admin.GetActiveLaunchPlan, active)
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert (
        error.details()
        == "launch plan 'flytesnacks/development/registry_flows.inner_lp' has no active version"
    )

    _activate(admin, "v1")
    assert admin.GetActiveLaunchPlan(active).id.version == "v1"
    _activate(admin, "v2")
    assert admin.GetActiveLaunchPlan(active).id.version == "v2"
    first = admin.GetLaunchPlan(get(identifier_pb2.LAUNCH_PLAN, "registry_flows.inner_lp", "v1"))
    assert first.closure.state == launch_plan_pb2.INACTIVE
    assert first.closure.updated_at.ToDatetime() > first.closure.created_at.ToDatetime()
    listed = admin.ListActiveLaunchPlans(
        launch_plan_pb2.ActiveLaunchPlanListRequest(project=flows.PROJECT, domain=flows.DOMAIN, limit=10)
    )
    assert [(p.id.name, p.id.version) for p in listed.launch_plans] == [("registry_flows.inner_lp", "v2")]

    _activate(admin, "v2", launch_plan_pb2.INACTIVE)
    assert fails(admin.GetActiveLaunchPlan, active).code() == grpc.StatusCode.NOT_FOUND

    error = fails(
        admin.UpdateLaunchPlan,
        launch_plan_pb2.LaunchPlanUpdateRequest(
            id=get(identifier_pb2.LAUNCH_PLAN, "registry_flows.inner_lp").id, state=7
        ),
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == "request field 'state' has the unknown value 7; known: INACTIVE, ACTIVE"
    error = fails(
        admin.UpdateLaunchPlan,
        launch_plan_pb2.LaunchPlanUpdateRequest(
            id=get(identifier_pb2.LAUNCH_PLAN, "registry_flows.inner_lp", "v9").id, state=1
        ),
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert (
        error.details()
        == "launch plan 'flytesnacks/development/registry_flows.inner_lp@v9' is not registered"
    )


def test_descriptions_are_kept_with_their_version(admin):
    request = flows.task_requests(flows.serialize(flows.inner))[0]
    description = description_entity_pb2.DescriptionEntity(
        short_description="adds one",
        long_description=description_entity_pb2.Description(
            value="Adds *one*.", format=description_entity_pb2.DESCRIPTION_FORMAT_RST
        ),
        source_code=description_entity_pb2.SourceCode(link="https://example.com/flows.py"),
    )
    request.spec.description.CopyFrom(description)
    admin.CreateTask(request)

    assert admin.GetTask(common_pb2.ObjectGetRequest(id=request.id)).short_description == "adds one"
    entity = admin.GetDescriptionEntity(common_pb2.ObjectGetRequest(id=request.id))
    expected = description_entity_pb2.DescriptionEntity()
    expected.CopyFrom(description)
    expected.id.CopyFrom(request.id)
    assert entity == expected
    listed = admin.ListDescriptionEntities(
        description_entity_pb2.DescriptionEntityListRequest(
            resource_type=identifier_pb2.TASK,
            id=common_pb2.NamedEntityIdentifier(
                project=flows.PROJECT, domain=flows.DOMAIN, name=request.id.name
            ),
            limit=10,
        )
    )
    assert list(listed.descriptionEntities) == [expected]

    missing = common_pb2.ObjectGetRequest(id=get(identifier_pb2.WORKFLOW, "registry_flows.inner").id)
    error = fails(admin.GetDescriptionEntity, missing)
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert error.details() == (
        "workflow 'flytesnacks/development/registry_flows.inner@v1' has no description "
        "(it is not registered, or was registered without one)"
    )


def test_named_entities_have_a_mutable_description_and_state(admin):
    flows.register(admin, flows.serialize(flows.outer))
    ident = common_pb2.NamedEntityIdentifier(
        project=flows.PROJECT, domain=flows.DOMAIN, name="registry_flows.outer"
    )
    entity = admin.GetNamedEntity(
        common_pb2.NamedEntityGetRequest(resource_type=identifier_pb2.WORKFLOW, id=ident)
    )
    assert entity.metadata == common_pb2.NamedEntityMetadata(
        description="", state=common_pb2.NAMED_ENTITY_ACTIVE
    )

    admin.UpdateNamedEntity(
        common_pb2.NamedEntityUpdateRequest(
            resource_type=identifier_pb2.WORKFLOW,
            id=ident,
            metadata=common_pb2.NamedEntityMetadata(
                description="the outer one", state=common_pb2.NAMED_ENTITY_ARCHIVED
            ),
        )
    )
    entity = admin.GetNamedEntity(
        common_pb2.NamedEntityGetRequest(resource_type=identifier_pb2.WORKFLOW, id=ident)
    )
    assert entity.metadata.description == "the outer one"
    assert entity.metadata.state == common_pb2.NAMED_ENTITY_ARCHIVED

    missing = common_pb2.NamedEntityIdentifier(project=flows.PROJECT, domain=flows.DOMAIN, name="nothing")
    for call, request in [
        (
            admin.GetNamedEntity,
            common_pb2.NamedEntityGetRequest(resource_type=identifier_pb2.TASK, id=missing),
        ),
        (
            admin.UpdateNamedEntity,
            common_pb2.NamedEntityUpdateRequest(resource_type=identifier_pb2.TASK, id=missing),
        ),
    ]:
        error = fails(call, request)
        assert error.code() == grpc.StatusCode.NOT_FOUND
        assert error.details() == "no task named 'flytesnacks/development/nothing' is registered"

    error = fails(
        admin.GetNamedEntity, common_pb2.NamedEntityGetRequest(resource_type=identifier_pb2.DATASET, id=ident)
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == "resource_type must be TASK, WORKFLOW or LAUNCH_PLAN, not DATASET"
    error = fails(
        admin.UpdateNamedEntity,
        common_pb2.NamedEntityUpdateRequest(
            resource_type=identifier_pb2.WORKFLOW, id=ident, metadata=common_pb2.NamedEntityMetadata(state=9)
        ),
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == (
        "request field 'metadata.state' has the unknown value 9; known: NAMED_ENTITY_ACTIVE, "
        "NAMED_ENTITY_ARCHIVED, SYSTEM_GENERATED"
    )


def test_task_create_response_and_a_missing_version(admin):
    request = flows.task_requests(flows.serialize(flows.inner))[0]
    assert admin.CreateTask(request) == task_pb2.TaskCreateResponse()
    error = fails(admin.GetTask, get(identifier_pb2.TASK, "registry_flows.add_one", "v2"))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert error.details() == "task 'flytesnacks/development/registry_flows.add_one@v2' is not registered"


def test_concurrent_registrations_of_one_version_agree_on_one_content(admin):
    from concurrent.futures import ThreadPoolExecutor

    first = flows.task_requests(flows.serialize(flows.inner))[0]
    second = task_pb2.TaskCreateRequest()
    second.CopyFrom(first)
    second.spec.template.container.image = "another:image"
    requests = [first, second] * 4

    def outcome(request: task_pb2.TaskCreateRequest) -> tuple[str, grpc.StatusCode]:
        try:
            admin.CreateTask(request)
        except grpc.RpcError as error:
            return request.spec.template.container.image, error.code()
        return request.spec.template.container.image, grpc.StatusCode.OK

    with ThreadPoolExecutor(len(requests)) as pool:
        outcomes = list(pool.map(outcome, requests))

    stored = admin.GetTask(common_pb2.ObjectGetRequest(id=first.id)).closure.compiled_task.template
    winner = stored.container.image
    assert {code for image, code in outcomes if image == winner} == {grpc.StatusCode.OK}
    assert {code for image, code in outcomes if image != winner} == {grpc.StatusCode.ALREADY_EXISTS}


def test_requests_without_a_spec(admin):
    serializer = flows.serialize(flows.inner)
    workflow = flows.workflow_request(serializer, "registry_flows.inner")
    workflow.ClearField("spec")
    error = fails(admin.CreateWorkflow, workflow)
    assert (error.code(), error.details()) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "workflow 'flytesnacks/development/registry_flows.inner@v1': spec.template is required",
    )
    plan = flows.launch_plan_request(serializer.launch_plans["registry_flows.inner"])
    plan.ClearField("spec")
    error = fails(admin.CreateLaunchPlan, plan)
    assert (error.code(), error.details()) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "launch plan 'flytesnacks/development/registry_flows.inner@v1': spec is required",
    )
