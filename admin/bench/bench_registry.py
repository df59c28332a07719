"""Registry latency: CreateTask, CreateWorkflow, GetWorkflow and ListTasks over a real gRPC socket, on SQLite
and on the PostgreSQL server at 127.0.0.1:5432 (when reachable). Printed, never asserted."""

from __future__ import annotations

from _bench_support import (
    DOMAIN,
    PROJECT,
    bench_admin,
    ms,
    on_each_database,
    p50,
    percentile,
    print_table,
    timed,
)
from flyteidl.admin import common_pb2, task_pb2, workflow_pb2
from flyteidl.core import identifier_pb2, interface_pb2, literals_pb2, tasks_pb2, types_pb2
from flyteidl.core import workflow_pb2 as core

TASKS = 200
WORKFLOWS = 50
NODES = 10
INT = types_pb2.LiteralType(simple=types_pb2.INTEGER)


def ident(kind: int, name: str, version: str = "v1") -> identifier_pb2.Identifier:
    """An identifier in the benchmark's project and domain."""
    return identifier_pb2.Identifier(
        resource_type=kind, project=PROJECT, domain=DOMAIN, name=name, version=version
    )


def task(name: str) -> task_pb2.TaskCreateRequest:
    """A CreateTask of a python task taking and returning an integer."""
    variables = interface_pb2.VariableMap(variables={"x": interface_pb2.Variable(type=INT)})
    template = tasks_pb2.TaskTemplate(
        id=ident(identifier_pb2.TASK, name),
        type="python-task",
        interface=interface_pb2.TypedInterface(
            inputs=variables,
            outputs=interface_pb2.VariableMap(variables={"o0": interface_pb2.Variable(type=INT)}),
        ),
        container=tasks_pb2.Container(
            image="python:3.11", args=["pyflyte-execute", "--inputs", "{{.input}}"]
        ),
    )
    return task_pb2.TaskCreateRequest(id=template.id, spec=task_pb2.TaskSpec(template=template))


def chain(name: str, task_ids: list[identifier_pb2.Identifier]) -> workflow_pb2.WorkflowCreateRequest:
    """A chain of NODES task nodes."""
    nodes = []
    for index, task_id in enumerate(task_ids):
        source = types_pb2.OutputReference(
            node_id=f"n{index - 1}" if index else "", var="o0" if index else "x"
        )
        nodes.append(
            core.Node(
                id=f"n{index}",
                inputs=[literals_pb2.Binding(var="x", binding=literals_pb2.BindingData(promise=source))],
                task_node=core.TaskNode(reference_id=task_id),
            )
        )
    template = core.WorkflowTemplate(
        id=ident(identifier_pb2.WORKFLOW, name),
        interface=interface_pb2.TypedInterface(
            inputs=interface_pb2.VariableMap(variables={"x": interface_pb2.Variable(type=INT)}),
            outputs=interface_pb2.VariableMap(variables={"o0": interface_pb2.Variable(type=INT)}),
        ),
        nodes=nodes,
        outputs=[
            literals_pb2.Binding(
                var="o0",
                binding=literals_pb2.BindingData(
                    promise=types_pb2.OutputReference(node_id=f"n{len(nodes) - 1}", var="o0")
                ),
            )
        ],
    )
    return workflow_pb2.WorkflowCreateRequest(
        id=template.id, spec=workflow_pb2.WorkflowSpec(template=template)
    )


def run(label: str, database_url: str) -> list[tuple[str, str, str, str]]:
    """Time each registry call on one database; a table row per call."""
    rows = []

    def report(what: str, seconds: list[float]) -> None:
        rows.append((f"{label}: {what}", str(len(seconds)), ms(p50(seconds)), ms(percentile(seconds, 0.99))))

    with bench_admin(database_url) as (_, admin):
        tasks = [task(f"bench.t{i}") for i in range(TASKS)]
        report("CreateTask", timed(admin.CreateTask, tasks))
        report("CreateTask, identical again", timed(admin.CreateTask, tasks[:50]))
        workflows = [chain(f"bench.wf{i}", [t.id for t in tasks[i : i + NODES]]) for i in range(WORKFLOWS)]
        report(f"CreateWorkflow ({NODES} task nodes)", timed(admin.CreateWorkflow, workflows))
        gets = [common_pb2.ObjectGetRequest(id=w.id) for w in workflows]
        report("GetWorkflow", timed(admin.GetWorkflow, gets))
        scope = common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN)
        lists = [common_pb2.ResourceListRequest(id=scope, limit=100, token=str(i)) for i in range(50)]
        report("ListTasks (100 a page)", timed(admin.ListTasks, lists))
    return rows


def main() -> None:
    """Both databases, one table."""
    skipped = [("PostgreSQL: skipped (no server at 127.0.0.1:5432)", "", "", "")]
    rows = [row for rows in on_each_database(run, skipped) for row in rows]
    print_table("Registry latency over gRPC (one client, file store)", ["call", "n", "p50", "p99"], rows)


if __name__ == "__main__":
    main()
