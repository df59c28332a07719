"""Defining tasks and workflows: interfaces, compilation to flyteidl, and definition-time errors."""

from __future__ import annotations

import datetime
import functools
from typing import NamedTuple

import pytest
from flyteidl.core import workflow_pb2

from roost import (
    Cache,
    CronSchedule,
    LaunchPlan,
    Resources,
    Secret,
    approve,
    conditional,
    dynamic,
    map_task,
    sleep,
    task,
    wait_for_input,
    workflow,
)
from roost.errors import WorkflowDefinitionError
from roost.serialize import SerializationSettings, Serializer

SETTINGS = SerializationSettings(project="p", domain="d", version="v1", image="repo/img:1")


class Split(NamedTuple):
    left: int
    right: str


@task
def load(path: str) -> str:
    return path


@task(
    retries=2,
    cache=Cache(version="3", serialize=True, ignored_inputs=("seed",)),
    timeout=30,
    requests=Resources(cpu="1", mem="1Gi"),
    limits=Resources(cpu=2, gpu=1),
    interruptible=True,
    secret_requests=[Secret(group="aws", key="token")],
    environment={"MODE": "fast"},
)
def train(data: str, epochs: int, seed: int = 0) -> float:
    return 0.5


@task
def split(x: int) -> Split:
    return Split(x, str(x))


@task
def pair(x: int) -> tuple[int, str]:
    return x, str(x)


@task
def side_effect() -> None:
    return None


def test_interfaces_come_from_annotations():
    assert list(train.interface.inputs) == ["data", "epochs", "seed"]
    assert train.interface.defaults == {"seed": 0}
    assert list(split.interface.outputs) == ["left", "right"]
    assert list(pair.interface.outputs) == ["o0", "o1"]
    assert side_effect.interface.outputs == {}
    assert train.name == "test_authoring.train"


def test_a_task_template_carries_every_option():
    template = Serializer(SETTINGS).task(train)
    meta = template.metadata
    assert (template.type, template.id.name, template.id.version) == (
        "python-task",
        "test_authoring.train",
        "v1",
    )
    assert (meta.retries.retries, meta.discoverable, meta.discovery_version) == (2, True, "3")
    assert (meta.cache_serializable, list(meta.cache_ignore_input_vars)) == (True, ["seed"])
    assert meta.timeout.seconds == 30 and meta.interruptible
    resources = template.container.resources
    assert [(r.name, r.value) for r in resources.requests] == [(1, "1"), (3, "1Gi")]
    assert [(r.name, r.value) for r in resources.limits] == [(1, "2"), (2, "1")]
    assert template.security_context.secrets[0].group == "aws"
    assert {e.key: e.value for e in template.container.env} == {"MODE": "fast"}
    assert template.container.image == "repo/img:1"
    assert template.container.args[:4] == ["roost-execute", "--inputs", "{{.input}}", "--output-prefix"]
    assert template.container.args[-4:] == ["--task-module", "test_authoring", "--task-name", "train"]


@workflow
def pipeline(path: str, epochs: int = 3) -> float:
    return train(data=load(path=path), epochs=epochs)


def test_a_workflow_compiles_to_nodes_with_bindings_and_the_core_compiler_accepts_it():
    serializer = Serializer(SETTINGS)
    template = serializer.workflow(pipeline)
    assert [n.id for n in template.nodes] == ["n0", "n1"]
    n1 = template.nodes[1]
    bindings = {b.var: b.binding for b in n1.inputs}
    assert (bindings["data"].promise.node_id, bindings["data"].promise.var) == ("n0", "o0")
    assert (bindings["epochs"].promise.node_id, bindings["epochs"].promise.var) == ("", "epochs")
    assert bindings["seed"].scalar.primitive.integer == 0
    assert n1.metadata.name == "train"
    closure = serializer.closure(pipeline)
    assert {t.template.id.name for t in closure.tasks} == {"test_authoring.load", "test_authoring.train"}


def test_wrong_types_are_caught_when_the_workflow_is_defined():
    @workflow
    def train_wf(path: str) -> float:
        return train(data=path, epochs=load(path=path))

    with pytest.raises(WorkflowDefinitionError) as raised:
        train_wf.compile()
    assert (
        str(raised.value)
        == "workflow 'train_wf': task 'train' input 'epochs' expects int but 'load.o0' is str"
    )


def test_a_constant_of_the_wrong_type_names_the_input():
    @workflow
    def wf() -> float:
        return train(data="d", epochs="seven")

    with pytest.raises(WorkflowDefinitionError) as raised:
        wf.compile()
    assert str(raised.value).startswith(
        "workflow 'wf': task 'train' input 'epochs': expected int but got str"
    )


def test_a_missing_input_is_named():
    @workflow
    def wf() -> float:
        return train(data="d")

    with pytest.raises(
        WorkflowDefinitionError, match=r"^workflow 'wf': task 'train' input 'epochs' is missing$"
    ):
        wf.compile()


def test_calling_a_plain_function_on_a_promise_says_to_make_it_a_task():
    def double(x):
        return x * 2

    @workflow
    def wf(x: int) -> int:
        return double(x)

    with pytest.raises(WorkflowDefinitionError) as raised:
        wf.compile()
    assert str(raised.value) == (
        "workflow 'wf': 'double' is not a task or workflow, but it received 'x', the future output of a node, "
        "and used in arithmetic (*); decorate 'double' with @task"
    )


def test_python_control_flow_on_a_promise_is_refused():
    @workflow
    def wf(x: int) -> int:
        if x:
            return split(x=x).left
        return 0

    with pytest.raises(WorkflowDefinitionError) as raised:
        wf.compile()
    assert str(raised.value) == (
        "workflow 'wf': 'x' is the future output of a node and cannot be used as a "
        "condition (use roost.conditional) while the workflow is defined; pass it to "
        "a task instead"
    )


def test_an_unknown_task_config_is_refused():
    class Unknown:
        pass

    with pytest.raises(WorkflowDefinitionError) as raised:
        task(task_config=Unknown())(lambda x: x)
    assert str(raised.value).startswith(
        "task '<lambda>': no installed plugin handles task_config of type Unknown"
    )


def test_multiple_outputs_by_name_and_position():
    @workflow
    def wf(x: int) -> tuple[int, str]:
        parts = split(x=x)
        first, _ = pair(x=parts.left)
        return first, parts.right

    template = Serializer(SETTINGS).workflow(wf)
    outputs = {b.var: b.binding.promise for b in template.outputs}
    assert (outputs["o0"].node_id, outputs["o0"].var) == ("n1", "o0")
    assert (outputs["o1"].node_id, outputs["o1"].var) == ("n0", "right")


def test_ordering_and_overrides():
    @workflow
    def wf(x: int) -> int:
        a = split(x=x)
        b = side_effect()
        c = pair(x=x).with_overrides(
            retries=5,
            name="renamed",
            timeout=datetime.timedelta(seconds=9),
            requests=Resources(mem="2Gi"),
            container_image="other:1",
        )
        a >> b >> c
        return c[0]

    nodes = {n.id: n for n in Serializer(SETTINGS).workflow(wf).nodes}
    assert list(nodes["n1"].upstream_node_ids) == ["n0"]
    assert list(nodes["n2"].upstream_node_ids) == ["n1"]
    meta = nodes["n2"].metadata
    assert (meta.name, meta.retries.retries, meta.timeout.seconds) == ("renamed", 5, 9)
    assert nodes["n2"].task_node.overrides.container_image == "other:1"


def test_an_unknown_override_is_named():
    @workflow
    def wf(x: int) -> int:
        return split(x=x).with_overrides(gpu=3).left

    with pytest.raises(WorkflowDefinitionError) as raised:
        wf.compile()
    assert str(raised.value).startswith(
        "workflow 'wf': with_overrides on node 'n0' got unknown setting(s) gpu; "
    )


def test_nested_workflows_become_sub_workflows():
    @workflow
    def outer(path: str) -> float:
        return pipeline(path=path, epochs=1)

    serializer = Serializer(SETTINGS)
    template = serializer.workflow(outer)
    assert template.nodes[0].workflow_node.sub_workflow_ref.name == "test_authoring.pipeline"
    closure = serializer.closure(outer)
    assert [w.template.id.name for w in closure.sub_workflows] == ["test_authoring.pipeline"]


def test_map_task_shape():
    @workflow
    def wf(xs: list[int]) -> list[float]:
        return map_task(functools.partial(train, data="d", seed=1), concurrency=3, min_success_ratio=0.5)(
            epochs=xs
        )

    node = Serializer(SETTINGS).workflow(wf).nodes[0]
    array = node.array_node
    assert (array.parallelism, array.min_success_ratio) == (3, 0.5)
    assert array.is_original_sub_node_interface.value
    assert array.data_mode == workflow_pb2.ArrayNode.INDIVIDUAL_INPUT_FILES
    assert sorted(array.bound_inputs) == ["data", "seed"]
    assert array.node.task_node.reference_id.name == "test_authoring.train"
    with pytest.raises(WorkflowDefinitionError, match="has no input"):
        map_task(functools.partial(train, nope=1))


def test_a_conditional_case_runs_exactly_one_node():
    @workflow
    def wf(x: int) -> int:
        return conditional("size").if_(x > 10).then(pair(x=split(x=x).left)[0]).else_().fail("too small")

    with pytest.raises(WorkflowDefinitionError) as raised:
        wf.compile()
    assert str(raised.value) == (
        "conditional 'size': each case runs exactly one node, but this one calls "
        "split, pair; wrap them in a workflow"
    )


def test_conditional_compiles_to_a_branch_node():
    @task
    def big(x: int) -> int:
        return x

    @task
    def small(x: int) -> int:
        return -x

    @workflow
    def wf(x: int) -> int:
        return (
            conditional("size")
            .if_((x > 10) & (x < 100))
            .then(big(x=x))
            .elif_(x == 5)
            .then(small(x=x))
            .else_()
            .fail("too small")
        )

    serializer = Serializer(SETTINGS)
    branch = serializer.workflow(wf).nodes[0]
    assert branch.metadata.name == "size"
    assert [b.var for b in branch.inputs] == [".x"]
    if_else = branch.branch_node.if_else
    assert if_else.case.condition.conjunction.left_expression.comparison.left_value.var == ".x"
    assert if_else.other[0].then_node.task_node.reference_id.name.endswith(".small")
    assert if_else.error.message == "too small"
    serializer.closure(wf)


def test_conditional_cases_must_agree_on_outputs():
    @task
    def text(x: int) -> str:
        return str(x)

    @task
    def number(x: int) -> int:
        return x

    @workflow
    def wf(x: int) -> int:
        return conditional("c").if_(x > 1).then(number(x=x)).else_().then(text(x=x))

    with pytest.raises(WorkflowDefinitionError) as raised:
        wf.compile()
    assert str(raised.value) == (
        "conditional 'c': every case must return the same outputs; task 'number' "
        "returns o0: int but task 'text' returns o0: str"
    )


def test_gates_become_gate_nodes():
    @workflow
    def wf(x: int) -> int:
        s = sleep(datetime.timedelta(minutes=2))
        a = split(x=x)
        s >> a
        ok = approve(a.left, "ship-it", timeout=datetime.timedelta(hours=2))
        extra = wait_for_input("extra", expected_type=int)
        ok >> extra
        return extra

    nodes = Serializer(SETTINGS).workflow(wf).nodes
    assert nodes[0].gate_node.sleep.duration.seconds == 120
    assert nodes[2].gate_node.approve.signal_id == "ship-it"
    assert [b.var for b in nodes[2].inputs] == ["left"]
    assert nodes[3].gate_node.signal.signal_id == "extra"


def test_launch_plans_carry_defaults_fixed_inputs_and_a_schedule():
    lp = LaunchPlan.get_or_create(
        pipeline,
        "nightly",
        default_inputs={"epochs": 7},
        fixed_inputs={"path": "/d"},
        schedule=CronSchedule("0 3 * * *"),
        labels={"team": "ml"},
        max_parallelism=4,
    )
    assert (
        LaunchPlan.get_or_create(
            pipeline,
            "nightly",
            default_inputs={"epochs": 7},
            fixed_inputs={"path": "/d"},
            schedule=CronSchedule("0 3 * * *"),
            labels={"team": "ml"},
            max_parallelism=4,
        )
        is lp
    )
    proto = Serializer(SETTINGS).launch_plan(lp)
    params = proto.spec.default_inputs.parameters
    assert params["epochs"].default.scalar.primitive.integer == 7
    assert "path" not in params
    assert proto.spec.fixed_inputs.literals["path"].scalar.primitive.string_value == "/d"
    assert proto.spec.entity_metadata.schedule.cron_schedule.schedule == "0 3 * * *"
    assert proto.spec.max_parallelism == 4
    assert proto.spec.workflow_id.name == "test_authoring.pipeline"
    with pytest.raises(WorkflowDefinitionError, match="already exists with other settings"):
        LaunchPlan.get_or_create(pipeline, "nightly", default_inputs={"epochs": 8})


def test_a_cron_schedule_carries_its_offset_and_kickoff_input():
    schedule = CronSchedule(
        "CRON_TZ=Europe/Paris @daily", kickoff_time_input_arg="when", offset="PT2H"
    ).to_proto()
    assert schedule.cron_schedule.schedule == "CRON_TZ=Europe/Paris @daily"
    assert schedule.cron_schedule.offset == "PT2H"
    assert schedule.kickoff_time_input_arg == "when"


def test_dynamic_tasks_serialize_as_python_tasks_with_their_settings():
    @dynamic
    def fan(n: int) -> list[int]:
        return [split(x=i).left for i in range(n)]

    template = Serializer(SETTINGS).task(fan)
    env = {e.key: e.value for e in template.container.env}
    assert template.type == "python-task"
    assert SerializationSettings.from_json(env["ROOST_SERIALIZATION"]) == SETTINGS
