"""RecoverExecution: a failed execution recovered after its cause went away re-runs only what did not
succeed (counted by the tasks' own notes), on SQLite and PostgreSQL; bad requests fail naming what is wrong."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import recover_flows as flows
import registry_flows
from execution_support import TESTS, fails, literal_map, outputs, running_admin, wait
from flyteidl.admin import common_pb2, execution_pb2, node_execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2
from flyteidl.service import admin_pb2_grpc
from sqlalchemy import delete

from roost_admin.db import models

PROJECT = registry_flows.PROJECT
DOMAIN = registry_flows.DOMAIN
SUCCEEDED = core_execution_pb2.WorkflowExecution.SUCCEEDED
FAILED = core_execution_pb2.WorkflowExecution.FAILED
RECOVERED = core_execution_pb2.NodeExecution.RECOVERED


class Bench:
    """An admin whose tasks note their runs in ``log`` and fail while ``flag`` exists."""

    def __init__(self, admin: admin_pb2_grpc.AdminServiceStub, folder: Path, app: Any) -> None:
        self.admin = admin
        self.app = app
        self.log = folder / "ran.log"
        self.flag = folder / "flag"

    def runs(self) -> Counter[str]:
        """What ran since the last call (and forget it)."""
        if not self.log.exists():
            return Counter()
        lines = self.log.read_text().splitlines()
        self.log.unlink()
        return Counter(lines)

    def start(self, workflow: str, **inputs: Any) -> identifier_pb2.WorkflowExecutionIdentifier:
        """Start a workflow of recover_flows."""
        lp = identifier_pb2.Identifier(
            resource_type=identifier_pb2.LAUNCH_PLAN,
            project=PROJECT,
            domain=DOMAIN,
            name=f"recover_flows.{workflow}",
            version="v1",
        )
        return self.admin.CreateExecution(
            execution_pb2.ExecutionCreateRequest(
                project=PROJECT,
                domain=DOMAIN,
                spec=execution_pb2.ExecutionSpec(launch_plan=lp),
                inputs=literal_map(**inputs),
            )
        ).id

    def launch(self, workflow: str, **inputs: Any) -> identifier_pb2.WorkflowExecutionIdentifier:
        """Run a workflow of recover_flows to its end."""
        ident = self.start(workflow, **inputs)
        wait(self.admin, ident)
        return ident

    def recover(self, ident: identifier_pb2.WorkflowExecutionIdentifier) -> execution_pb2.Execution:
        """Recover an execution and wait for the new one to end."""
        new = self.admin.RecoverExecution(execution_pb2.ExecutionRecoverRequest(id=ident)).id
        return wait(self.admin, new)

    def node_phases(self, ident: identifier_pb2.WorkflowExecutionIdentifier) -> dict[str, int]:
        """Every node execution's phase by id (nested ones included)."""
        found: dict[str, int] = {}

        def collect(parent: str) -> None:
            listed = self.admin.ListNodeExecutions(
                node_execution_pb2.NodeExecutionListRequest(
                    workflow_execution_id=ident, limit=500, unique_parent_id=parent
                )
            )
            for node in listed.node_executions:
                found[node.id.node_id] = node.closure.phase
                if node.metadata.is_parent_node:
                    collect(node.id.node_id)

        collect("")
        return found


@contextmanager
def bench(tmp_path: Path, database_url: str) -> Iterator[Bench]:
    """A Bench over a running admin with recover_flows registered."""
    env = {
        "PYTHONPATH": str(TESTS),
        "RECOVER_LOG": str(tmp_path / "ran.log"),
        "RECOVER_FLAG": str(tmp_path / "flag"),
    }
    engine = {"task_environment": {"env": env}, "handlers": {"local-process": {}}}
    with running_admin(tmp_path, database_url, register=False, engine=engine) as (app, admin, _signals):
        registry_flows.register(
            admin,
            registry_flows.serialize(
                flows.chain, flows.mapped, flows.dynamic_steps, flows.nested, flows.holding, version="v1"
            ),
        )
        yield Bench(admin, tmp_path, app)


def test_recovering_a_chain_reruns_only_the_failed_step_and_what_follows(tmp_path, database_url):
    with bench(tmp_path, database_url) as b:
        b.flag.touch()
        original = b.launch("chain", x=0)
        assert b.runs() == Counter(s1=1, s2=1, s3=1, s4=1)
        b.flag.unlink()
        recovered = b.recover(original)
        assert recovered.closure.phase == SUCCEEDED
        assert b.runs() == Counter(s4=1, s5=1)
        assert outputs(b.admin, recovered.id) == {"o0": 15}
        metadata = recovered.spec.metadata
        assert metadata.mode == execution_pb2.ExecutionMetadata.RECOVERED
        assert metadata.reference_execution == original
        phases = b.node_phases(recovered.id)
        assert [phases[n] for n in ("n0", "n1", "n2")] == [RECOVERED] * 3
        assert phases["n3"] == phases["n4"] == core_execution_pb2.NodeExecution.SUCCEEDED


def test_recovering_a_map_task_reruns_only_its_failed_index(tmp_path, database_url):
    with bench(tmp_path, database_url) as b:
        b.flag.touch()
        original = b.launch("mapped", n=4)
        assert b.runs() == Counter({"spread": 1, "square 0": 1, "square 1": 1, "square 2": 1})
        b.flag.unlink()
        recovered = b.recover(original)
        assert recovered.closure.phase == SUCCEEDED
        assert b.runs() == Counter({"square 2": 1, "square 3": 1, "total": 1})
        assert outputs(b.admin, recovered.id) == {"o0": 0 + 1 + 4 + 9}


def test_recovering_a_dynamic_node_reuses_its_workflow_and_succeeded_nodes(tmp_path, database_url):
    with bench(tmp_path, database_url) as b:
        b.flag.touch()
        original = b.launch("dynamic_steps", x=0)
        assert b.runs() == Counter(steps=1, s1=1, s2=1, s4=1)
        b.flag.unlink()
        recovered = b.recover(original)
        assert recovered.closure.phase == SUCCEEDED
        # The dynamic task is not run again: its generated workflow is, minus what succeeded.
        assert b.runs() == Counter(s4=1, s5=1)
        assert outputs(b.admin, recovered.id) == {"o0": 12}


def test_recovering_a_sub_workflow_reruns_only_its_failed_node(tmp_path, database_url):
    with bench(tmp_path, database_url) as b:
        b.flag.touch()
        original = b.launch("nested", x=0)
        assert b.runs() == Counter(s1=1, s3=1, s4=1)
        b.flag.unlink()
        recovered = b.recover(original)
        assert recovered.closure.phase == SUCCEEDED
        assert b.runs() == Counter(s4=1, s5=1)
        assert outputs(b.admin, recovered.id) == {"o0": 13}


def test_recovering_a_succeeded_execution_runs_nothing(tmp_path, database_url):
    with bench(tmp_path, database_url) as b:
        original = b.launch("chain", x=1)
        assert sum(b.runs().values()) == 5
        recovered = b.recover(original)
        assert recovered.closure.phase == SUCCEEDED
        assert b.runs() == Counter()
        assert outputs(b.admin, recovered.id) == {"o0": 16}


def test_recover_refuses_missing_and_running_executions(tmp_path, database_url):
    with bench(tmp_path, database_url) as b:
        missing = identifier_pb2.WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name="nosuch")
        error = fails(b.admin.RecoverExecution, execution_pb2.ExecutionRecoverRequest(id=missing))
        assert error.code() == grpc.StatusCode.NOT_FOUND
        assert "nosuch" in error.details()
        b.flag.touch()
        running = b.start("holding", x=0)
        error = fails(b.admin.RecoverExecution, execution_pb2.ExecutionRecoverRequest(id=running))
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert error.details().startswith(f"execution {PROJECT}/{DOMAIN}/{running.name} is still ")
        assert error.details().endswith(": only an execution that ended can be recovered")
        b.flag.unlink()
        wait(b.admin, running)
        listed = b.admin.ListExecutions(
            common_pb2.ResourceListRequest(
                id=common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN), limit=100
            )
        )
        assert len(listed.executions) == 1  # nothing half-created

        # An execution whose saved state is gone (created before states were kept) cannot be recovered.
        with b.app.db.begin() as session:
            session.execute(delete(models.ExecutionState))
        error = fails(b.admin.RecoverExecution, execution_pb2.ExecutionRecoverRequest(id=running))
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert (
            error.details()
            == f"execution {PROJECT}/{DOMAIN}/{running.name} has no saved state to recover from"
        )
