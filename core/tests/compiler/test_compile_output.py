"""The shape of what the compiler builds: start and end nodes, connections, renamed branch cases,
sub-workflows, array nodes, launch plans, gates, and the closure's tasks."""

from __future__ import annotations

from compiler_builders import (
    RESOURCE,
    admin_launch_plan,
    bindings,
    branch_node,
    gt,
    ident,
    issues_of,
    items,
    launch_plan_node,
    ref,
    subworkflow_node,
    task,
    task_node,
    val,
    wf_input,
    workflow,
)
from flyteidl.core import (
    compiler_pb2,
    condition_pb2,
    interface_pb2,
    literals_pb2,
    types_pb2,
    workflow_pb2,
)
from google.protobuf import duration_pb2, wrappers_pb2
from type_builders import FLOAT, INT, STR, list_of, optional, struct

from roost_core.compiler import compile_workflow

T_INT = task("t_int", {"x": INT}, {"o0": INT})
T_PAIR = task("t_pair", {"x": INT, "y": INT}, {"o0": INT})
T_NONE = task("t_none")
T_STR = task("t_str", {}, {"o0": STR})


def _connections(
    compiled: compiler_pb2.CompiledWorkflow,
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    upstream = {k: list(v.ids) for k, v in compiled.connections.upstream.items()}
    downstream = {k: list(v.ids) for k, v in compiled.connections.downstream.items()}
    return upstream, downstream


def _nodes(compiled: compiler_pb2.CompiledWorkflow) -> dict[str, workflow_pb2.Node]:
    return {node.id: node for node in compiled.template.nodes}


def _diamond() -> workflow_pb2.WorkflowTemplate:
    return workflow(
        "diamond.wf",
        [
            task_node("n0", "t_int", x=wf_input("a")),
            task_node("n1", "t_int", x=ref("n0", "o0")),
            task_node("n2", "t_int", x=ref("n0", "o0")),
            task_node("n3", "t_pair", x=ref("n1", "o0"), y=ref("n2", "o0")),
        ],
        inputs={"a": INT},
        outputs={"o": INT},
        o=ref("n3", "o0"),
    )


def test_a_diamond_gets_start_and_end_nodes_and_connections_both_ways() -> None:
    closure = compile_workflow(_diamond(), [T_INT, T_PAIR])
    primary = closure.primary
    assert [node.id for node in primary.template.nodes] == [
        "start-node",
        "end-node",
        "n0",
        "n1",
        "n2",
        "n3",
    ]
    upstream, downstream = _connections(primary)
    assert upstream == {
        "n0": ["start-node"],
        "n1": ["n0"],
        "n2": ["n0"],
        "n3": ["n1", "n2"],
        "end-node": ["n3"],
    }
    assert downstream == {
        "start-node": ["n0"],
        "n0": ["n1", "n2"],
        "n1": ["n3"],
        "n2": ["n3"],
        "n3": ["end-node"],
    }
    nodes = _nodes(primary)
    assert {node_id: list(node.upstream_node_ids) for node_id, node in nodes.items()} == {
        "start-node": [],
        "end-node": ["n3"],
        "n0": [],
        "n1": ["n0"],
        "n2": ["n0"],
        "n3": ["n1", "n2"],
    }
    end = nodes["end-node"]
    assert list(end.inputs) == list(primary.template.outputs)
    assert end.inputs[0].binding.promise.node_id == "n3"
    assert nodes["n0"].inputs[0].binding.promise.node_id == "start-node"
    assert [t.template.id.name for t in closure.tasks] == ["t_int", "t_pair"]
    assert not closure.sub_workflows
    assert not closure.launch_plans


def test_inputs_are_left_untouched() -> None:
    template = _diamond()
    tasks = [T_INT, T_PAIR]
    before = template.SerializeToString(deterministic=True), [t.SerializeToString() for t in tasks]
    compile_workflow(template, tasks)
    assert (
        template.SerializeToString(deterministic=True),
        [t.SerializeToString() for t in tasks],
    ) == before
    assert template.nodes[0].inputs[0].binding.promise.node_id == ""


def test_nodes_without_dependencies_hang_off_start_and_leaves_lead_to_end() -> None:
    wf = workflow(
        "loose.wf",
        [
            task_node("n0", "t_none"),
            task_node("n1", "t_int", x=val(3)),
            task_node("n2", "t_none", upstream=["n0"]),
            task_node("n3", "t_int", x=ref("n1", "o0")),
        ],
        outputs={"o": INT, "a": INT},
        o=ref("n1", "o0"),
        a=ref("start-node", "a"),
        inputs={"a": INT},
    )
    upstream, downstream = _connections(compile_workflow(wf, [T_INT, T_NONE]).primary)
    assert upstream == {
        "n0": ["start-node"],
        "n1": ["start-node"],
        "n2": ["n0"],
        "n3": ["n1"],
        "end-node": ["n1", "n2", "n3", "start-node"],
    }
    assert downstream == {
        "start-node": ["end-node", "n0", "n1"],
        "n0": ["n2"],
        "n1": ["end-node", "n3"],
        "n2": ["end-node"],
        "n3": ["end-node"],
    }


def _branching() -> workflow_pb2.WorkflowTemplate:
    """flytekit's shape: cases reuse the outer ids n0 and n1 and bind outer nodes directly."""
    then_node = task_node("n0", "t_int", x=ref("n0", "o0"))
    else_node = task_node("n1", "t_pair", x=wf_input("a"), y=ref("n2", "o0"))
    return workflow(
        "branch.wf",
        [
            task_node("n0", "t_int", x=wf_input("a")),
            task_node("n2", "t_int", x=wf_input("a")),
            branch_node("n1", [(gt(".x", 5), then_node)], else_node=else_node, **{".x": wf_input("a")}),
            task_node("n3", "t_int", x=ref("n1", "o0")),
        ],
        inputs={"a": INT},
        outputs={"o": INT},
        o=ref("n3", "o0"),
    )


def test_branch_cases_may_reuse_outer_ids_and_are_renamed_as_flyte_does() -> None:
    closure = compile_workflow(_branching(), [T_INT, T_PAIR])
    nodes = _nodes(closure.primary)
    if_else = nodes["n1"].branch_node.if_else
    assert if_else.case.then_node.id == "n1-n0"
    assert if_else.else_node.id == "n1-n1"
    assert if_else.else_node.inputs[0].binding.promise.node_id == "start-node"
    assert set(nodes) == {"start-node", "end-node", "n0", "n1", "n2", "n3"}
    upstream, downstream = _connections(closure.primary)
    # The branch waits for every outer node its cases read; the cases are not graph nodes.
    assert upstream["n1"] == ["n0", "n2", "start-node"]
    assert list(nodes["n1"].upstream_node_ids) == ["n0", "n2"]
    assert downstream["n0"] == ["n1"]
    assert "n1-n0" not in upstream
    assert "n1-n1" not in downstream
    assert [t.template.id.name for t in closure.tasks] == ["t_int", "t_pair"]


def test_nested_branch_cases_are_renamed_under_their_branch() -> None:
    inner = branch_node(
        "n0", [(gt(".x", 1), task_node("n0", "t_none"))], error="too small", **{".x": wf_input("a")}
    )
    wf = workflow(
        "nested.wf",
        [
            branch_node(
                "n0",
                [(gt(".x", 5), inner)],
                else_node=task_node("n1", "t_none"),
                **{".x": wf_input("a")},
            )
        ],
        inputs={"a": INT},
    )
    nodes = _nodes(compile_workflow(wf, [T_NONE]).primary)
    outer_case = nodes["n0"].branch_node.if_else.case.then_node
    assert outer_case.id == "n0-n0"
    assert outer_case.branch_node.if_else.case.then_node.id == "n0-n0-n0"


def test_a_branch_gives_the_outputs_all_its_cases_give() -> None:
    wf = workflow(
        "outputs.wf",
        [
            branch_node(
                "n0",
                [(gt(".x", 5), task_node("n0", "t_pair", x=wf_input("a"), y=wf_input("a")))],
                else_node=task_node("n1", "t_int", x=wf_input("a")),
                **{".x": wf_input("a")},
            ),
            task_node("n1", "t_int", x=ref("n0", "o0")),
        ],
        inputs={"a": INT},
    )
    compile_workflow(wf, [T_INT, T_PAIR])
    wf.nodes[1].inputs[0].binding.promise.var = "o1"
    assert issues_of(wf, [T_INT, T_PAIR]) == [
        (
            "VariableNameNotFound",
            "n1",
            "workflow 'outputs.wf': node 'n1' input 'x' refers to 'n0.o1', but node 'n0' has no output 'o1'",
        ),
    ]


def _sub(name: str, nodes: list[workflow_pb2.Node]) -> workflow_pb2.WorkflowTemplate:
    return workflow(name, nodes, inputs={"a": INT}, outputs={"o": INT}, o=ref(nodes[-1].id, "o0"))


def test_sub_workflows_three_levels_deep_are_compiled_once_each() -> None:
    leaf = _sub("leaf.wf", [task_node("n0", "t_int", x=wf_input("a"))])
    middle = _sub(
        "middle.wf",
        [
            subworkflow_node("n0", "leaf.wf", a=wf_input("a")),
            subworkflow_node("n1", "leaf.wf", a=ref("n0", "o")),
        ],
    )
    middle.nodes[1].inputs[0].binding.promise.var = "o"
    middle.outputs[0].binding.promise.var = "o"
    top = workflow(
        "top.wf",
        [subworkflow_node("n0", "middle.wf", a=wf_input("a")), task_node("n1", "t_str")],
        inputs={"a": INT},
        outputs={"o": INT},
        o=ref("n0", "o"),
    )
    unused = _sub("unused.wf", [task_node("n0", "t_pair", x=wf_input("a"), y=wf_input("a"))])
    closure = compile_workflow(top, [T_INT, T_STR, T_PAIR], [unused, leaf, middle])
    assert [w.template.id.name for w in closure.sub_workflows] == ["middle.wf", "leaf.wf"]
    assert [t.template.id.name for t in closure.tasks] == ["t_int", "t_str"]
    for compiled in closure.sub_workflows:
        assert [n.id for n in compiled.template.nodes][:2] == ["start-node", "end-node"]
        assert compiled.connections.upstream["end-node"].ids
    middle_upstream, _ = _connections(closure.sub_workflows[0])
    assert middle_upstream["n1"] == ["n0"]


def test_a_type_mismatch_across_a_sub_workflow_boundary_is_found() -> None:
    leaf = _sub("leaf.wf", [task_node("n0", "t_int", x=wf_input("a"))])
    top = workflow("top.wf", [task_node("n0", "t_str"), subworkflow_node("n1", "leaf.wf", a=ref("n0", "o0"))])
    assert issues_of(top, [T_INT, T_STR], [leaf]) == [
        (
            "MismatchingTypes",
            "n1",
            "workflow 'top.wf': node 'n1' input 'a' expects int but 'n0.o0' is str",
        ),
    ]


def _array_node(node_id: str, sub: workflow_pb2.Node, **fields: object) -> workflow_pb2.Node:
    node = workflow_pb2.Node(id=node_id, array_node=workflow_pb2.ArrayNode(**fields))
    node.array_node.node.CopyFrom(sub)
    node.inputs.extend(sub.inputs)
    return node


def test_an_array_node_as_flytekit_sends_it() -> None:
    map_task = task("square-arraynode", {"x": list_of(INT)}, {"o0": list_of(INT)})
    sub = task_node("square-arraynode", "square-arraynode", x=ref("n0", "o0"))
    wf = workflow(
        "map.wf",
        [
            task_node("n0", "t_list", x=wf_input("a")),
            _array_node(
                "n1",
                sub,
                min_success_ratio=1.0,
                is_original_sub_node_interface=wrappers_pb2.BoolValue(value=False),
            ),
            task_node("n2", "t_sum", xs=ref("n1", "o0")),
        ],
        inputs={"a": INT},
    )
    tasks = [
        task("t_list", {"x": INT}, {"o0": list_of(INT)}),
        map_task,
        task("t_sum", {"xs": list_of(INT)}),
    ]
    closure = compile_workflow(wf, tasks)
    upstream, _ = _connections(closure.primary)
    assert upstream["n1"] == ["n0"]
    assert "square-arraynode" not in upstream
    assert {t.template.id.name for t in closure.tasks} == {"t_list", "square-arraynode", "t_sum"}


def test_an_array_node_with_a_per_element_interface_maps_list_elements() -> None:
    element_task = task("scale", {"x": INT, "factor": FLOAT}, {"o0": FLOAT})
    sub = task_node("scale", "scale", x=ref("n0", "o0"), factor=wf_input("f"))

    def build(
        list_type: types_pb2.LiteralType, consumer: types_pb2.LiteralType
    ) -> workflow_pb2.WorkflowTemplate:
        return workflow(
            "map.wf",
            [
                task_node("n0", "t_make"),
                _array_node(
                    "n1",
                    sub,
                    bound_inputs=["factor"],
                    is_original_sub_node_interface=wrappers_pb2.BoolValue(value=True),
                ),
                task_node("n2", "t_use", xs=ref("n1", "o0")),
            ],
            inputs={"f": FLOAT},
        ), [element_task, task("t_make", {}, {"o0": list_type}), task("t_use", {"xs": consumer})]

    template, tasks = build(list_of(INT), list_of(FLOAT))
    compile_workflow(template, tasks)
    template, tasks = build(list_of(STR), FLOAT)
    assert issues_of(template, tasks) == [
        (
            "MismatchingTypes",
            "n1",
            "workflow 'map.wf': array node 'n1' input 'x' expects list[int] but 'n0.o0' is list[str]",
        ),
        (
            "MismatchingTypes",
            "n2",
            "workflow 'map.wf': node 'n2' input 'xs' expects float but 'n1.o0' is list[float]",
        ),
    ]


def test_a_launch_plan_node_may_leave_inputs_with_defaults_unbound() -> None:
    lp = admin_launch_plan(
        "lp.sum", {"x": INT, "y": INT, "z": INT}, {"o0": INT}, defaults={"y": 2}, fixed={"z": 3}
    )
    wf = workflow(
        "lp.wf",
        [
            launch_plan_node("n0", "lp.sum", x=wf_input("a")),
            launch_plan_node("n1", "lp.sum", x=val(1), y=val(5)),
        ],
        inputs={"a": INT},
        outputs={"o": INT},
        o=ref("n0", "o0"),
    )
    closure = compile_workflow(wf, [], launch_plans=[lp])
    assert [p.template.id.name for p in closure.launch_plans] == ["lp.sum"]
    template = closure.launch_plans[0].template
    assert set(template.interface.inputs.variables) == {"x", "y"}
    assert set(template.fixed_inputs.literals) == {"z"}
    assert list(template.interface.outputs.variables) == ["o0"]
    assert not closure.tasks


def test_gate_nodes_pass_on_their_types() -> None:
    approve = workflow_pb2.Node(
        id="n1",
        inputs=bindings({"v": ref("n0", "o0")}),
        gate_node=workflow_pb2.GateNode(approve=workflow_pb2.ApproveCondition(signal_id="ok")),
    )
    signal = workflow_pb2.Node(
        id="n2",
        gate_node=workflow_pb2.GateNode(
            signal=workflow_pb2.SignalCondition(signal_id="s", type=STR, output_variable_name="answer")
        ),
    )
    sleep = workflow_pb2.Node(
        id="n3",
        gate_node=workflow_pb2.GateNode(
            sleep=workflow_pb2.SleepCondition(duration=duration_pb2.Duration(seconds=5))
        ),
    )
    wf = workflow(
        "gates.wf",
        [
            task_node("n0", "t_int", x=val(1)),
            approve,
            signal,
            sleep,
            task_node("n4", "t_int", upstream=["n3"], x=ref("n1", "v")),
            task_node("n5", "t_int", x=ref("n2", "answer")),
        ],
    )
    assert issues_of(wf, [T_INT]) == [
        (
            "MismatchingTypes",
            "n5",
            "workflow 'gates.wf': node 'n5' input 'x' expects int but 'n2.answer' is str",
        ),
    ]
    wf.nodes[5].inputs[0].binding.promise.node_id = "n1"
    wf.nodes[5].inputs[0].binding.promise.var = "v"
    upstream, _ = _connections(compile_workflow(wf, [T_INT]).primary)
    assert upstream["n1"] == ["n0"]
    assert upstream["n4"] == ["n1", "n3"]


def test_optional_inputs_may_be_left_unbound_and_none_binds_to_them() -> None:
    t_opt = task("t_opt", {"x": optional(INT), "y": optional(STR)}, {"o0": INT})
    wf = workflow("opt.wf", [task_node("n0", "t_opt", y=val(None))])
    compile_workflow(wf, [t_opt])


def test_attribute_paths_follow_lists_maps_and_dataclass_fields() -> None:
    producer = task("t_make", {}, {"o0": struct(items=list_of(INT), name=STR), "o1": list_of(INT)})
    wf = workflow(
        "attrs.wf",
        [
            task_node("n0", "t_make"),
            task_node("n1", "t_int", x=ref("n0", "o0", "items", 0)),
            task_node("n2", "t_int", x=ref("n0", "o1", 1)),
        ],
    )
    compile_workflow(wf, [producer, T_INT])


def test_collections_and_maps_of_bindings_are_checked_element_by_element() -> None:
    t_list = task("t_list", {"xs": list_of(INT)})
    wf = workflow(
        "coll.wf",
        [
            task_node("n0", "t_int", x=val(1)),
            task_node("n1", "t_list", xs=items(ref("n0", "o0"), val(2), val("three"))),
        ],
    )
    assert issues_of(wf, [T_INT, t_list]) == [
        (
            "MismatchingTypes",
            "n1",
            "workflow 'coll.wf': node 'n1' input 'xs'[2] expects int but is bound to a str literal",
        ),
    ]
    wf.nodes[1].inputs[0].binding.collection.bindings[2].scalar.primitive.integer = 3
    upstream, _ = _connections(compile_workflow(wf, [T_INT, t_list]).primary)
    assert upstream["n1"] == ["n0"]


def test_the_failure_node_is_checked_and_its_task_included() -> None:
    on_failure = task(
        "cleanup",
        {"a": INT, "err": optional(types_pb2.LiteralType(simple=types_pb2.SimpleType.ERROR))},
    )
    wf = workflow("fail.wf", [task_node("n0", "t_int", x=wf_input("a"))], inputs={"a": INT})
    wf.failure_node.CopyFrom(task_node("fn0", "cleanup", a=wf_input("a")))
    closure = compile_workflow(wf, [T_INT, on_failure])
    assert [t.template.id.name for t in closure.tasks] == ["t_int", "cleanup"]
    assert closure.primary.template.failure_node.inputs[0].binding.promise.node_id == "start-node"
    assert "fn0" not in closure.primary.connections.upstream
    wf.failure_node.inputs[0].binding.promise.var = "b"
    assert issues_of(wf, [T_INT, on_failure]) == [
        (
            "VariableNameNotFound",
            "fn0",
            "workflow 'fail.wf': failure node 'fn0' input 'a' refers to workflow input 'b', which "
            "does not exist",
        ),
    ]


def test_output_aliases_rename_outputs() -> None:
    aliased = task_node("n0", "t_int", x=val(1))
    aliased.output_aliases.add(var="o0", alias="total")
    wf = workflow("alias.wf", [aliased, task_node("n1", "t_int", x=ref("n0", "total"))])
    compile_workflow(wf, [T_INT])


def test_references_ignore_the_resource_type() -> None:
    node = task_node("n0", "t_none")
    node.task_node.reference_id.resource_type = RESOURCE.UNSPECIFIED
    closure = compile_workflow(workflow("loose.wf", [node]), [T_NONE])
    assert [t.template.id for t in closure.tasks] == [ident("t_none")]


def test_a_recursive_launch_plan_reference_is_not_a_compile_cycle() -> None:
    lp = admin_launch_plan("self.wf", {"a": INT}, {})
    wf = workflow("self.wf", [launch_plan_node("n0", "self.wf", a=wf_input("a"))], inputs={"a": INT})
    closure = compile_workflow(wf, [], launch_plans=[lp])
    assert closure.launch_plans[0].template.interface.inputs.variables["a"] == interface_pb2.Variable(
        type=INT
    )


def test_references_inside_branch_cases_and_array_sub_nodes_reach_the_closure() -> None:
    leaf = _sub("leaf.wf", [task_node("n0", "t_int", x=wf_input("a"))])
    lp = admin_launch_plan("lp.one", {"x": INT}, {"o0": INT})
    mapped = workflow_pb2.Node(id="n1", inputs=bindings({"x": ref("n0", "o0")}))
    mapped.array_node.node.CopyFrom(launch_plan_node("lp", "lp.one", x=ref("n0", "o0")))
    mapped.array_node.is_original_sub_node_interface.value = True
    wf = workflow(
        "refs.wf",
        [
            task_node("n0", "t_list"),
            mapped,
            branch_node(
                "n2",
                [(gt(".x", 1), subworkflow_node("n0", "leaf.wf", a=wf_input("a")))],
                else_node=task_node("n1", "t_str"),
                **{".x": wf_input("a")},
            ),
        ],
        inputs={"a": INT},
    )
    tasks = [task("t_list", {}, {"o0": list_of(INT)}), T_INT, T_STR]
    closure = compile_workflow(wf, tasks, [leaf], [lp])
    assert [t.template.id.name for t in closure.tasks] == ["t_list", "t_int", "t_str"]
    assert [w.template.id.name for w in closure.sub_workflows] == ["leaf.wf"]
    assert [p.template.id.name for p in closure.launch_plans] == ["lp.one"]
    wf.nodes[1].array_node.node.workflow_node.launchplan_ref.name = "lp.gone"
    assert issues_of(wf, tasks, [leaf], [lp]) == [
        (
            "WorkflowReferenceNotFound",
            "n1",
            "workflow 'refs.wf': the sub-node of array node 'n1' references launch plan "
            "'lp.gone@v1', which was not given to the compiler",
        ),
    ]


def test_conditions_may_compare_ints_with_floats_and_none_and_use_scalars() -> None:
    none_operand = condition_pb2.Operand(scalar=literals_pb2.Scalar(none_type=literals_pb2.Void()))
    is_none = condition_pb2.BooleanExpression(
        comparison=condition_pb2.ComparisonExpression(
            left_value=condition_pb2.Operand(var=".y"), right_value=none_operand
        )
    )
    float_and_int = condition_pb2.BooleanExpression(
        conjunction=condition_pb2.ConjunctionExpression(left_expression=gt(".f", 1), right_expression=is_none)
    )
    wf = workflow(
        "cond.wf",
        [
            branch_node(
                "n0",
                [(float_and_int, task_node("n0", "t_none"))],
                error="no",
                **{".f": wf_input("f"), ".y": wf_input("y")},
            )
        ],
        inputs={"f": FLOAT, "y": optional(INT)},
    )
    compile_workflow(wf, [T_NONE])
