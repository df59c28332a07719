"""Every issue the compiler reports, with its exact code, node and message, and issues together."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from compiler_builders import (
    RESOURCE,
    admin_launch_plan,
    branch_node,
    entries,
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
    condition_pb2,
    interface_pb2,
    literals_pb2,
    tasks_pb2,
    types_pb2,
    workflow_pb2,
)
from google.protobuf import duration_pb2, wrappers_pb2
from type_builders import FLOAT, INT, STR, dict_of, enum, list_of, optional, struct, union

from roost_core.compiler import CompileError, IssueCode, compile_workflow

T_INT = task("t_int", {"x": INT}, {"o0": INT})
T_STR = task("t_str", {}, {"o0": STR})
T_FLOAT = task("t_float", {"x": FLOAT}, {"o0": FLOAT})
T_LIST = task("t_list", {"xs": list_of(INT)}, {"o0": list_of(INT)})
T_NONE = task("t_none")
TASKS = [T_INT, T_STR, T_FLOAT, T_LIST, T_NONE]


@dataclass
class Case:
    """A workflow (with what it references) and the issues it must give, in order."""

    workflow: workflow_pb2.WorkflowTemplate
    expected: list[tuple[str, str, str]]
    tasks: list[tasks_pb2.TaskTemplate] = field(default_factory=lambda: list(TASKS))
    subworkflows: list[workflow_pb2.WorkflowTemplate] = field(default_factory=list)
    launch_plans: list[Any] = field(default_factory=list)


def _wf(*nodes: workflow_pb2.Node, name: str = "my.wf", **kw: Any) -> workflow_pb2.WorkflowTemplate:
    kw.setdefault("inputs", {"a": INT})
    return workflow(name, nodes, **kw)


def _with_inputs(node: workflow_pb2.Node, *pairs: tuple[str, literals_pb2.BindingData]) -> workflow_pb2.Node:
    for var, data in pairs:
        node.inputs.append(literals_pb2.Binding(var=var, binding=data))
    return node


def _gate(node_id: str, **condition: Any) -> workflow_pb2.Node:
    return workflow_pb2.Node(id=node_id, gate_node=workflow_pb2.GateNode(**condition))


def _array(node_id: str, sub: workflow_pb2.Node | None, **fields: Any) -> workflow_pb2.Node:
    array = workflow_pb2.ArrayNode(**fields)
    if sub is not None:
        array.node.CopyFrom(sub)
    return workflow_pb2.Node(id=node_id, array_node=array)


W = "workflow 'my.wf': "

CASES: dict[IssueCode, list[Callable[[], Case]]] = {
    IssueCode.CYCLE_DETECTED: [
        lambda: Case(
            _wf(
                task_node("n0", "t_int", x=wf_input("a")),
                task_node("n1", "t_int", x=ref("n2", "o0")),
                task_node("n2", "t_int", x=ref("n1", "o0")),
            ),
            [("CycleDetected", "n1", W + "cycle detected: n1 -> n2 -> n1")],
        ),
        lambda: Case(
            _wf(task_node("n0", "t_int", upstream=["n0"], x=wf_input("a"))),
            [("CycleDetected", "n0", W + "cycle detected: n0 -> n0")],
        ),
        lambda: Case(
            _wf(subworkflow_node("n0", "sub.a", a=wf_input("a"))),
            [
                (
                    "CycleDetected",
                    "n0",
                    "workflow 'sub.b': node 'n0' calls sub-workflow 'sub.a@v1' recursively (sub.a "
                    "-> sub.b -> sub.a)",
                )
            ],
            subworkflows=[
                _wf(subworkflow_node("n0", "sub.b", a=wf_input("a")), name="sub.a"),
                _wf(subworkflow_node("n0", "sub.a", a=wf_input("a")), name="sub.b"),
            ],
        ),
    ],
    IssueCode.UNREACHABLE_NODES: [
        lambda: Case(
            _wf(
                task_node("n0", "t_int", x=wf_input("a")),
                task_node("n1", "t_int", x=ref("n2", "o0")),
                task_node("n2", "t_int", x=ref("n1", "o0")),
                task_node("n3", "t_int", x=ref("n2", "o0")),
            ),
            [
                ("CycleDetected", "n1", W + "cycle detected: n1 -> n2 -> n1"),
                ("UnreachableNodes", "", W + "nodes not reachable from start-node: n3"),
            ],
        ),
    ],
    IssueCode.TASK_REFERENCE_NOT_FOUND: [
        lambda: Case(
            _wf(task_node("n0", "missing")),
            [
                (
                    "TaskReferenceNotFound",
                    "n0",
                    W + "node 'n0' references task 'missing@v1', which was not given to the compiler",
                )
            ],
        ),
    ],
    IssueCode.WORKFLOW_REFERENCE_NOT_FOUND: [
        lambda: Case(
            _wf(subworkflow_node("n0", "sub.missing")),
            [
                (
                    "WorkflowReferenceNotFound",
                    "n0",
                    W + "node 'n0' references sub-workflow 'sub.missing@v1', which was not given to "
                    "the compiler",
                )
            ],
        ),
        lambda: Case(
            _wf(launch_plan_node("n0", "lp.missing")),
            [
                (
                    "WorkflowReferenceNotFound",
                    "n0",
                    W + "node 'n0' references launch plan 'lp.missing@v1', which was not given to "
                    "the compiler",
                )
            ],
        ),
    ],
    IssueCode.PARAMETER_NOT_BOUND: [
        lambda: Case(
            _wf(task_node("n0", "t_int"), outputs={"o": INT, "p": INT}, o=ref("n0", "o0")),
            [
                ("ParameterNotBound", "n0", W + "node 'n0' input 'x' is not bound"),
                ("ParameterNotBound", "end-node", W + "output 'p' is not bound"),
            ],
        ),
        lambda: Case(
            _wf(launch_plan_node("n0", "lp.sum", y=val(1))),
            [("ParameterNotBound", "n0", W + "node 'n0' input 'x' is not bound")],
            launch_plans=[admin_launch_plan("lp.sum", {"x": INT, "y": INT}, {}, defaults={"y": 2})],
        ),
    ],
    IssueCode.PARAMETER_BOUND_MORE_THAN_ONCE: [
        lambda: Case(
            _wf(_with_inputs(task_node("n0", "t_int", x=wf_input("a")), ("x", val(2)))),
            [
                (
                    "ParameterBoundMoreThanOnce",
                    "n0",
                    W + "node 'n0' input 'x' is bound more than once",
                )
            ],
        ),
    ],
    IssueCode.NODE_REFERENCE_NOT_FOUND: [
        lambda: Case(
            _wf(
                task_node("n0", "t_int", upstream=["n8"], x=ref("n9", "o0")),
                outputs={"o": INT},
                o=ref("n7", "o0"),
            ),
            [
                (
                    "NodeReferenceNotFound",
                    "n0",
                    W + "node 'n0' input 'x' refers to node 'n9', which does not exist",
                ),
                (
                    "NodeReferenceNotFound",
                    "n0",
                    W + "node 'n0' lists upstream node 'n8', which does not exist",
                ),
                (
                    "NodeReferenceNotFound",
                    "end-node",
                    W + "output 'o' refers to node 'n7', which does not exist",
                ),
            ],
        ),
        lambda: Case(
            _wf(task_node("n0", "t_int", x=ref("end-node", "o"))),
            [
                (
                    "NodeReferenceNotFound",
                    "n0",
                    W + "node 'n0' input 'x' refers to node 'end-node', which cannot be read",
                )
            ],
        ),
    ],
    IssueCode.VARIABLE_NAME_NOT_FOUND: [
        lambda: Case(
            _wf(
                task_node("n0", "t_int", x=wf_input("zz")),
                task_node("n1", "t_int", x=ref("n0", "o5"), y=val(1)),
                outputs={"o": INT},
                o=ref("n1", "o0"),
                p=ref("n1", "o0"),
            ),
            [
                (
                    "VariableNameNotFound",
                    "n0",
                    W + "node 'n0' input 'x' refers to workflow input 'zz', which does not exist",
                ),
                (
                    "VariableNameNotFound",
                    "n1",
                    W + "node 'n1' input 'x' refers to 'n0.o5', but node 'n0' has no output 'o5'",
                ),
                (
                    "VariableNameNotFound",
                    "n1",
                    W + "node 'n1' binds input 'y', which task 't_int@v1' does not declare",
                ),
                (
                    "VariableNameNotFound",
                    "end-node",
                    W + "the workflow binds output 'p', which its interface does not declare",
                ),
            ],
        ),
        lambda: Case(
            _wf(launch_plan_node("n0", "lp.sum", x=val(1), y=val(2))),
            [
                (
                    "VariableNameNotFound",
                    "n0",
                    W + "node 'n0' binds input 'y', which launch plan 'lp.sum@v1' fixes",
                )
            ],
            launch_plans=[admin_launch_plan("lp.sum", {"x": INT, "y": INT}, {}, fixed={"y": 2})],
        ),
        lambda: Case(
            _wf(
                branch_node(
                    "n0",
                    [(gt(".b", 1), task_node("n0", "t_none"))],
                    error="no",
                    **{".x": wf_input("a")},
                )
            ),
            [
                (
                    "VariableNameNotFound",
                    "n0",
                    W + "branch node 'n0' condition uses '.b', which is not one of its inputs",
                )
            ],
        ),
        lambda: Case(
            _wf(
                workflow_pb2.Node(
                    id="n0",
                    task_node=workflow_pb2.TaskNode(reference_id=ident("t_int")),
                    inputs=[literals_pb2.Binding(var="x", binding=wf_input("a"))],
                    output_aliases=[workflow_pb2.Alias(var="o9", alias="out")],
                )
            ),
            [
                (
                    "VariableNameNotFound",
                    "n0",
                    W + "node 'n0' aliases output 'o9', which it does not have",
                )
            ],
        ),
        lambda: Case(
            _wf(
                _array("n0", task_node("m", "t_list"), bound_inputs=["ys"]),
                inputs={"l": list_of(INT)},
            ),
            [
                (
                    "VariableNameNotFound",
                    "n0",
                    W + "array node 'n0' lists bound input 'ys', which task 't_list@v1' does not declare",
                ),
                ("ParameterNotBound", "n0", W + "array node 'n0' input 'xs' is not bound"),
            ],
        ),
    ],
    IssueCode.FIELD_NOT_FOUND: [
        lambda: Case(
            _wf(task_node("n0", "t_struct"), task_node("n1", "t_int", x=ref("n0", "o0", "b"))),
            [
                (
                    "FieldNotFound",
                    "n1",
                    W + "node 'n1' input 'x' refers to field 'b' of 'n0.o0', which has no such field",
                )
            ],
            tasks=[T_INT, task("t_struct", {}, {"o0": struct(a=INT)})],
        ),
    ],
    IssueCode.DUPLICATE_ID: [
        lambda: Case(
            _wf(task_node("n0", "t_none"), task_node("n0", "t_none"), task_node("n0", "t_none")),
            [("DuplicateId", "n0", W + "node id 'n0' is used by more than one node")],
        ),
        lambda: Case(
            _wf(task_node("start-node", "t_none"), task_node("n0", "t_none")),
            [
                (
                    "DuplicateId",
                    "start-node",
                    W + "node id 'start-node' is reserved for the node the compiler adds",
                )
            ],
        ),
        lambda: Case(
            _wf(
                branch_node(
                    "n1",
                    [(gt(".x", 1), task_node("n0", "t_none"))],
                    else_node=task_node("n0", "t_none"),
                    **{".x": wf_input("a")},
                )
            ),
            [
                (
                    "DuplicateId",
                    "n1",
                    W + "branch node 'n1' has more than one then/else node with id 'n0'",
                )
            ],
        ),
    ],
    IssueCode.MISMATCHING_TYPES: [
        lambda: Case(
            _wf(
                task_node("n0", "t_str"),
                task_node("n1", "t_int", x=ref("n0", "o0")),
                task_node("n2", "t_float", x=wf_input("a")),
                task_node("n3", "t_int", x=val("three")),
                outputs={"o": FLOAT},
                o=ref("n1", "o0"),
            ),
            [
                (
                    "MismatchingTypes",
                    "n1",
                    W + "node 'n1' input 'x' expects int but 'n0.o0' is str",
                ),
                (
                    "MismatchingTypes",
                    "n2",
                    W + "node 'n2' input 'x' expects float but workflow input 'a' is int",
                ),
                (
                    "MismatchingTypes",
                    "n3",
                    W + "node 'n3' input 'x' expects int but is bound to a str literal",
                ),
                ("MismatchingTypes", "end-node", W + "output 'o' expects float but 'n1.o0' is int"),
            ],
        ),
        lambda: Case(
            _wf(task_node("n0", "t_struct"), task_node("n1", "t_int", x=ref("n0", "o0", "s"))),
            [
                (
                    "MismatchingTypes",
                    "n1",
                    W + "node 'n1' input 'x' expects int but 'n0.o0.s' is str",
                )
            ],
            tasks=[T_INT, task("t_struct", {}, {"o0": struct(s=STR)})],
        ),
        lambda: Case(
            _wf(
                branch_node(
                    "n0",
                    [(gt(".x", 1), task_node("n0", "t_int", x=wf_input("a")))],
                    else_node=task_node("n1", "t_str"),
                    **{".x": wf_input("a")},
                )
            ),
            [
                (
                    "MismatchingTypes",
                    "n0",
                    W + "branch node 'n0' output 'o0' is int in 'n0-n0' but str in 'n0-n1'",
                )
            ],
        ),
        lambda: Case(
            _wf(
                branch_node(
                    "n0",
                    [(gt(".s", 1), task_node("n0", "t_none"))],
                    error="no",
                    **{".s": wf_input("s")},
                ),
                inputs={"s": STR},
            ),
            [("MismatchingTypes", "n0", W + "branch node 'n0' condition compares str with int")],
        ),
    ],
    IssueCode.MISMATCHING_BINDINGS: [
        lambda: Case(
            _wf(
                task_node("n0", "t_int", x=items(val(1))),
                task_node("n1", "t_int", x=entries(k=val(1))),
            ),
            [
                (
                    "MismatchingBindings",
                    "n0",
                    W + "node 'n0' input 'x' expects int but is bound to a list",
                ),
                (
                    "MismatchingBindings",
                    "n1",
                    W + "node 'n1' input 'x' expects int but is bound to a map",
                ),
            ],
        ),
    ],
    IssueCode.MISMATCHING_INTERFACES: [
        lambda: Case(
            _wf(_array("n0", task_node("m", "t_int", x=wf_input("l"))), inputs={"l": list_of(INT)}),
            [
                (
                    "MismatchingInterfaces",
                    "n0",
                    W + "array node 'n0' output 'o0' of task 't_int@v1' is int, but the outputs of "
                    "an array node's "
                    "sub-node must be lists unless is_original_sub_node_interface is set",
                ),
                ("ParameterNotBound", "n0", W + "array node 'n0' input 'x' is not bound"),
            ],
        ),
    ],
    IssueCode.BRANCH_NODE_HAS_NO_DEFAULT: [
        lambda: Case(
            _wf(branch_node("n0", [(gt(".x", 1), task_node("n0", "t_none"))], **{".x": wf_input("a")})),
            [
                (
                    "BranchNodeHasNoDefault",
                    "n0",
                    W + "branch node 'n0' has neither an else node nor an else error",
                )
            ],
        ),
    ],
    IssueCode.BRANCH_NODE_HAS_NO_CONDITION: [
        lambda: Case(
            _wf(
                branch_node(
                    "n0",
                    [(gt(".x", 1), task_node("n0", "t_none")), (None, task_node("n1", "t_none"))],
                    error="no",
                    **{".x": wf_input("a")},
                )
            ),
            [("BranchNodeHasNoCondition", "n0", W + "branch node 'n0' case 2 has no condition")],
        ),
        lambda: Case(
            _wf(branch_node("n0", [], error="no")),
            [("BranchNodeHasNoCondition", "n0", W + "branch node 'n0' has no if case")],
        ),
    ],
    IssueCode.BRANCH_NODE_ID_NOT_FOUND: [
        lambda: Case(
            _wf(branch_node("n0", [(gt(".x", 1), None)], error="no", **{".x": wf_input("a")})),
            [("BranchNodeIdNotFound", "n0", W + "branch node 'n0' case 1 has no then node")],
        ),
    ],
    IssueCode.VALUE_REQUIRED: [
        lambda: Case(
            _wf(
                workflow_pb2.Node(task_node=workflow_pb2.TaskNode(reference_id=ident("t_none"))),
                workflow_pb2.Node(id="n1"),
                workflow_pb2.Node(id="n2", task_node=workflow_pb2.TaskNode()),
                workflow_pb2.Node(id="n3", workflow_node=workflow_pb2.WorkflowNode()),
                _with_inputs(task_node("n4", "t_int"), ("x", literals_pb2.BindingData())),
            ),
            [
                ("ValueRequired", "", W + "node #1 has no id"),
                (
                    "ValueRequired",
                    "n1",
                    W + "node 'n1' has no target (task, workflow, branch, gate or array node)",
                ),
                ("ValueRequired", "n2", W + "node 'n2' is a task node without a task reference"),
                (
                    "ValueRequired",
                    "n3",
                    W + "node 'n3' is a workflow node without a launch plan or sub-workflow reference",
                ),
                ("ValueRequired", "n4", W + "node 'n4' input 'x' has an empty binding"),
            ],
        ),
        lambda: Case(
            workflow_pb2.WorkflowTemplate(
                interface=interface_pb2.TypedInterface(
                    inputs=interface_pb2.VariableMap(variables={"a": interface_pb2.Variable()})
                ),
                nodes=[task_node("n0", "t_none")],
            ),
            [
                ("ValueRequired", "", "task #2 passed to the compiler has no id"),
                ("ValueRequired", "", "workflow '<unnamed>': the workflow template has no id"),
                ("ValueRequired", "", "workflow '<unnamed>': input 'a' has no type"),
            ],
            tasks=[T_NONE, tasks_pb2.TaskTemplate(type="python-task")],
        ),
        lambda: Case(
            _wf(
                _gate("n0", signal=workflow_pb2.SignalCondition()),
                _gate("n1", sleep=workflow_pb2.SleepCondition()),
                _gate("n2", approve=workflow_pb2.ApproveCondition()),
                _array("n3", None),
                workflow_pb2.Node(id="n4", branch_node=workflow_pb2.BranchNode()),
            ),
            [
                ("ValueRequired", "n0", W + "gate node 'n0' signal has no signal id"),
                ("ValueRequired", "n0", W + "gate node 'n0' signal has no output variable name"),
                ("ValueRequired", "n0", W + "gate node 'n0' signal has no type"),
                ("ValueRequired", "n1", W + "gate node 'n1' sleep has no duration"),
                ("ValueRequired", "n2", W + "gate node 'n2' approval has no signal id"),
                ("ValueRequired", "n3", W + "array node 'n3' has no sub-node"),
                ("ValueRequired", "n4", W + "branch node 'n4' has no if/else block"),
            ],
        ),
        lambda: Case(
            _wf(
                branch_node(
                    "n0",
                    [
                        (
                            condition_pb2.BooleanExpression(
                                comparison=condition_pb2.ComparisonExpression(
                                    left_value=condition_pb2.Operand(var=".x")
                                )
                            ),
                            task_node("n0", "t_none"),
                        )
                    ],
                    error="no",
                    **{".x": wf_input("a")},
                )
            ),
            [("ValueRequired", "n0", W + "branch node 'n0' condition has an empty operand")],
        ),
        lambda: Case(
            _wf(
                branch_node(
                    "n0",
                    [
                        (
                            condition_pb2.BooleanExpression(
                                conjunction=condition_pb2.ConjunctionExpression(left_expression=gt(".x", 1))
                            ),
                            workflow_pb2.Node(task_node=workflow_pb2.TaskNode(reference_id=ident("t_none"))),
                        )
                    ],
                    error="no",
                    **{".x": wf_input("a")},
                )
            ),
            [
                ("ValueRequired", "n0", W + "branch node 'n0' has a then/else node without an id"),
                ("ValueRequired", "n0", W + "branch node 'n0' condition has an empty expression"),
            ],
        ),
    ],
    IssueCode.INVALID_VALUE: [
        lambda: Case(
            _wf(
                _gate(
                    "n0",
                    sleep=workflow_pb2.SleepCondition(duration=duration_pb2.Duration(seconds=-5)),
                ),
                _array(
                    "n1",
                    task_node("m", "t_list", xs=wf_input("l")),
                    min_success_ratio=1.5,
                    is_original_sub_node_interface=wrappers_pb2.BoolValue(value=False),
                ),
                _array(
                    "n2",
                    _gate(
                        "g",
                        sleep=workflow_pb2.SleepCondition(duration=duration_pb2.Duration(seconds=1)),
                    ),
                ),
                inputs={"l": list_of(INT)},
            ),
            [
                ("InvalidValue", "n0", W + "gate node 'n0' sleep duration is negative"),
                (
                    "InvalidValue",
                    "n1",
                    W + "array node 'n1' min_success_ratio 1.5 is not between 0 and 1",
                ),
                (
                    "InvalidValue",
                    "n2",
                    W + "array node 'n2' can only map a task or workflow node, not a gate node",
                ),
                ("ParameterNotBound", "n1", W + "array node 'n1' input 'xs' is not bound"),
            ],
        ),
    ],
    IssueCode.UNRECOGNIZED_VALUE: [
        lambda: Case(
            _wf(task_node("n0", "t_int", x=literals_pb2.BindingData(scalar=literals_pb2.Scalar()))),
            [
                (
                    "UnrecognizedValue",
                    "n0",
                    W + "node 'n0' input 'x' is bound to a literal of unknown type",
                )
            ],
        ),
    ],
    IssueCode.NO_NODES_FOUND: [
        lambda: Case(
            _wf(outputs={"o": INT}, o=wf_input("a")),
            [("NoNodesFound", "", W + "the workflow has no nodes")],
        ),
    ],
    IssueCode.NO_CONDITION_FOUND: [
        lambda: Case(
            _wf(_gate("n0")),
            [
                (
                    "NoConditionFound",
                    "n0",
                    W + "gate node 'n0' has no approve, signal or sleep condition",
                )
            ],
        ),
    ],
    IssueCode.ILLEGAL_ENUM_VALUE: [
        lambda: Case(
            _wf(task_node("n0", "t_enum", c=val("blue"))),
            [
                (
                    "IllegalEnumValue",
                    "n0",
                    W + "node 'n0' input 'c' expects enum{red,green} but is bound to 'blue'",
                )
            ],
            tasks=[task("t_enum", {"c": enum("red", "green")})],
        ),
    ],
    IssueCode.AMBIGUOUS_BINDING_UNION_VALUE: [
        lambda: Case(
            _wf(task_node("n0", "t_u", u=items())),
            [
                (
                    "AmbiguousBindingUnionValue",
                    "n0",
                    W + "node 'n0' input 'u' expects list[int] | list[str] but its list binding "
                    "matches more than one "
                    "variant (list[int] and list[str])",
                )
            ],
            tasks=[task("t_u", {"u": union(list_of(INT), list_of(STR))})],
        ),
    ],
    IssueCode.INCOMPATIBLE_BINDING_UNION_VALUE: [
        lambda: Case(
            _wf(
                task_node("n0", "t_u", u=items(val("a"))),
                task_node("n1", "t_u", u=entries(k=val(1))),
            ),
            [
                (
                    "IncompatibleBindingUnionValue",
                    "n0",
                    W + "node 'n0' input 'u' expects list[int] | int but its list binding matches "
                    "none of the variants",
                ),
                (
                    "IncompatibleBindingUnionValue",
                    "n1",
                    W + "node 'n1' input 'u' expects list[int] | int but its map binding matches "
                    "none of the variants",
                ),
            ],
            tasks=[task("t_u", {"u": union(list_of(INT), INT)})],
        ),
    ],
    IssueCode.INVALID_LITERAL_TYPE: [
        lambda: Case(
            _wf(
                task_node("n0", "t_bad", x=wf_input("a")),
                _gate(
                    "n1",
                    signal=workflow_pb2.SignalCondition(
                        signal_id="s", output_variable_name="v", type=types_pb2.LiteralType()
                    ),
                ),
                inputs={"a": INT, "b": dict_of(types_pb2.LiteralType())},
            ),
            [
                ("InvalidLiteralType", "", W + "input 'b' has an empty or unknown literal type"),
                (
                    "InvalidLiteralType",
                    "n0",
                    W + "task 't_bad@v1' output 'o0' has an empty or unknown literal type",
                ),
                ("InvalidLiteralType", "n1", W + "gate node 'n1' signal type is empty or unknown"),
            ],
            tasks=[task("t_bad", {"x": INT}, {"o0": list_of(types_pb2.LiteralType())})],
        ),
    ],
}

_ALL = [(code, index, make) for code, makers in CASES.items() for index, make in enumerate(makers, start=1)]


@pytest.mark.parametrize("make", [m for _, _, m in _ALL], ids=[f"{c.value}-{i}" for c, i, _ in _ALL])
def test_issue(make: Callable[[], Case]) -> None:
    case = make()
    assert issues_of(case.workflow, case.tasks, case.subworkflows, case.launch_plans) == case.expected


def test_every_issue_code_is_covered() -> None:
    covered = {code for makers in CASES.values() for make in makers for code, _, _ in make().expected}
    assert covered == {code.value for code in IssueCode}


def test_every_problem_is_reported_together_and_listed_by_the_error() -> None:
    wf = _wf(
        task_node("n0", "t_str"),
        task_node("n1", "t_int", x=ref("n0", "o0")),
        task_node("n2", "missing"),
        task_node("n3", "t_int"),
        task_node("n3", "t_none"),
        branch_node("n4", [(gt(".x", 1), task_node("n0", "t_none"))], **{".x": wf_input("a")}),
        outputs={"o": INT},
    )
    with pytest.raises(CompileError) as raised:
        compile_workflow(wf, TASKS)
    assert [issue.code for issue in raised.value.errors] == [
        "DuplicateId",
        "TaskReferenceNotFound",
        "BranchNodeHasNoDefault",
        "MismatchingTypes",
        "ParameterNotBound",
        "ParameterNotBound",
    ]
    assert str(raised.value) == "\n".join(
        [
            "DuplicateId: workflow 'my.wf': node id 'n3' is used by more than one node",
            "TaskReferenceNotFound: workflow 'my.wf': node 'n2' references task 'missing@v1', "
            "which was not given to the compiler",
            "BranchNodeHasNoDefault: workflow 'my.wf': branch node 'n4' has neither an else node "
            "nor an else error",
            "MismatchingTypes: workflow 'my.wf': node 'n1' input 'x' expects int but 'n0.o0' is str",
            "ParameterNotBound: workflow 'my.wf': node 'n3' input 'x' is not bound",
            "ParameterNotBound: workflow 'my.wf': output 'o' is not bound",
        ]
    )


def test_issues_in_a_sub_workflow_name_that_workflow() -> None:
    inner = _wf(task_node("n0", "t_int", x=val("s")), name="inner.wf")
    outer = _wf(subworkflow_node("n0", "inner.wf", a=wf_input("a")), task_node("n1", "t_int"))
    assert issues_of(outer, TASKS, [inner]) == [
        (
            "MismatchingTypes",
            "n0",
            "workflow 'inner.wf': node 'n0' input 'x' expects int but is bound to a str literal",
        ),
        ("ParameterNotBound", "n1", "workflow 'my.wf': node 'n1' input 'x' is not bound"),
    ]


def test_a_launch_plan_template_lets_unfixed_inputs_go_unbound_but_checks_bound_ones() -> None:
    lp = workflow_pb2.LaunchPlanTemplate(
        id=ident("lp.t", RESOURCE.LAUNCH_PLAN),
        interface=interface_pb2.TypedInterface(
            inputs=interface_pb2.VariableMap(
                variables={
                    "x": interface_pb2.Variable(type=INT),
                    "y": interface_pb2.Variable(type=INT),
                    "z": interface_pb2.Variable(type=optional(INT)),
                }
            )
        ),
        fixed_inputs=literals_pb2.LiteralMap(literals={"y": literals_pb2.Literal()}),
    )
    compile_workflow(_wf(launch_plan_node("n0", "lp.t")), TASKS, launch_plans=[lp])
    node = launch_plan_node("n0", "lp.t", x=val("s"), y=val(1))
    assert issues_of(_wf(node), TASKS, launch_plans=[lp]) == [
        (
            "MismatchingTypes",
            "n0",
            W + "node 'n0' input 'x' expects int but is bound to a str literal",
        ),
        (
            "VariableNameNotFound",
            "n0",
            W + "node 'n0' binds input 'y', which launch plan 'lp.t@v1' fixes",
        ),
    ]
