"""Random DAGs compile, with connections that agree both ways and with the nodes' dependencies;
and damaged templates give issues, never exceptions."""

from __future__ import annotations

from compiler_builders import (
    bindings,
    branch_node,
    entries,
    gt,
    items,
    ref,
    task,
    task_node,
    val,
    wf_input,
    workflow,
)
from flyteidl.core import tasks_pb2, workflow_pb2
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from hypothesis import given, settings
from hypothesis import strategies as st
from type_builders import INT

from roost_core.compiler import END_NODE, START_NODE, CompileError, CompileIssue, compile_workflow

TASKS = [task(f"t{arity}", {f"x{i}": INT for i in range(arity)}, {"o0": INT}) for arity in range(4)]


@st.composite
def dags(draw: st.DrawFn) -> tuple[workflow_pb2.WorkflowTemplate, dict[str, set[str]]]:
    """A workflow whose node i reads from and waits on earlier nodes, and those dependencies."""
    size = draw(st.integers(min_value=1, max_value=25))
    nodes = []
    depends: dict[str, set[str]] = {}
    for index in range(size):
        node_id = f"n{index}"
        earlier = [f"n{i}" for i in range(index)]
        arity = draw(st.integers(min_value=0, max_value=3))
        sources = [draw(st.sampled_from([*earlier, ""])) for _ in range(arity)]
        waits = draw(st.lists(st.sampled_from(earlier), unique=True, max_size=2)) if earlier else []
        inputs = {f"x{i}": ref(source, "o0") if source else wf_input("a") for i, source in enumerate(sources)}
        nodes.append(task_node(node_id, f"t{arity}", upstream=waits, **inputs))
        depends[node_id] = {s or START_NODE for s in sources} | set(waits)
    outputs = draw(st.lists(st.sampled_from([n.id for n in nodes]), unique=True, max_size=3))
    wf = workflow(
        "random.wf",
        nodes,
        inputs={"a": INT},
        outputs={f"o_{n}": INT for n in outputs},
        **{f"o_{n}": ref(n, "o0") for n in outputs},
    )
    depends[END_NODE] = set(outputs)
    return wf, depends


@settings(max_examples=150, deadline=None)
@given(dags())
def test_random_dags_compile_with_consistent_connections(
    case: tuple[workflow_pb2.WorkflowTemplate, dict[str, set[str]]],
) -> None:
    wf, depends = case
    compiled = compile_workflow(wf, TASKS).primary
    upstream = {k: set(v.ids) for k, v in compiled.connections.upstream.items()}
    downstream = {k: set(v.ids) for k, v in compiled.connections.downstream.items()}
    node_ids = [n.id for n in compiled.template.nodes]
    assert node_ids[:2] == [START_NODE, END_NODE]
    assert set(upstream) == set(node_ids) - {START_NODE}
    assert set(downstream) == set(node_ids) - {END_NODE}
    edges_up = {(u, v) for v, ups in upstream.items() for u in ups}
    edges_down = {(u, v) for u, downs in downstream.items() for v in downs}
    assert edges_up == edges_down
    for node in compiled.template.nodes:
        if node.id == START_NODE:
            continue
        assert depends[node.id] <= upstream[node.id]
        assert set(node.upstream_node_ids) == upstream[node.id] - {START_NODE}
        assert list(node.upstream_node_ids) == sorted(node.upstream_node_ids)
        for binding in node.inputs:
            assert binding.binding.promise.node_id in upstream[node.id]
    # Every node runs after start and before end: walking down from start reaches them all.
    seen, frontier = {START_NODE}, [START_NODE]
    while frontier:
        for following in downstream.get(frontier.pop(), ()):
            if following not in seen:
                seen.add(following)
                frontier.append(following)
    assert seen == set(node_ids)
    leaves = {n for n in node_ids if n not in (START_NODE, END_NODE) and downstream[n] == {END_NODE}}
    assert upstream[END_NODE] == leaves | depends[END_NODE]


def test_binding_list_order_does_not_change_the_output() -> None:
    first = task_node("n1", "t2", x0=ref("n0", "o0"), x1=wf_input("a"))
    second = task_node("n1", "t2", x1=wf_input("a"), x0=ref("n0", "o0"))
    compiled = [
        compile_workflow(
            workflow("order.wf", [task_node("n0", "t0"), node], inputs={"a": INT}), TASKS
        ).primary
        for node in (first, second)
    ]
    assert compiled[0].connections == compiled[1].connections


def _rich_workflow() -> tuple[workflow_pb2.WorkflowTemplate, list[tasks_pb2.TaskTemplate]]:
    """A workflow using every kind of node, to take apart."""
    then_node = task_node("n0", "t1", x0=ref("n0", "o0"))
    array = workflow_pb2.Node(id="n3", inputs=bindings({"x0": items(ref("n0", "o0"))}))
    array.array_node.node.CopyFrom(task_node("m", "t1", x0=ref("n0", "o0")))
    array.array_node.is_original_sub_node_interface.value = True
    gate = workflow_pb2.Node(id="n4", upstream_node_ids=["n3"])
    gate.gate_node.signal.CopyFrom(
        workflow_pb2.SignalCondition(signal_id="s", type=INT, output_variable_name="v")
    )
    nodes = [
        task_node("n0", "t1", x0=wf_input("a")),
        branch_node("n1", [(gt(".x", 1), then_node)], error="no", **{".x": wf_input("a")}),
        task_node("n2", "t2", x0=ref("n1", "o0"), x1=entries(k=val(1))),
        array,
        gate,
        task_node("n5", "t1", x0=ref("n4", "v")),
    ]
    return workflow("rich.wf", nodes, inputs={"a": INT}, outputs={"o": INT}, o=ref("n5", "o0")), TASKS


def _fields(message: Message) -> list[tuple[Message, FieldDescriptor]]:
    """Every set field of a message and of the messages inside it."""
    found: list[tuple[Message, FieldDescriptor]] = []
    for descriptor, value in message.ListFields():
        found.append((message, descriptor))
        if descriptor.message_type is None or descriptor.message_type.GetOptions().map_entry:
            continue
        for inner in value if descriptor.is_repeated else [value]:
            found.extend(_fields(inner))
    return found


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(min_value=0), st.sampled_from(["", "end-node", "n1", "o0"])),
        min_size=1,
        max_size=4,
    )
)
def test_malformed_templates_give_issues_never_exceptions(damage: list[tuple[int, str]]) -> None:
    wf, tasks = _rich_workflow()
    tasks = [tasks_pb2.TaskTemplate.FromString(t.SerializeToString()) for t in tasks]
    for position, text in damage:
        fields = _fields(wf) + [f for t in tasks for f in _fields(t)]
        message, descriptor = fields[position % len(fields)]
        if descriptor.type == descriptor.TYPE_STRING and not descriptor.is_repeated:
            setattr(message, descriptor.name, text)
        else:
            message.ClearField(descriptor.name)
    issues: list[CompileIssue] = []
    try:
        compile_workflow(wf, tasks)
    except CompileError as error:
        issues = error.errors
    assert all(issue.code and issue.message for issue in issues)
