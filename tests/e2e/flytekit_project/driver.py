"""FlyteRemote on the client side of the flytekit end-to-end test (run with flytekit's virtualenv's python).

    python driver.py CONFIG PLAN

``PLAN`` is a JSON file::

    {"version": "v1",            # version of the registered entities that "launch" entries execute
     "timeout": 150,             # seconds FlyteRemote.wait waits for each execution
     "launch": [{"key": "k", "kind": "workflow" | "launch_plan" | "task", "name": "...", "inputs": {...},
                 "envs": {...}, "labels": {...}}],          # envs and labels are optional
     "attach": [{"key": "k", "execution": "<name of an execution started elsewhere>"}]}

An input given as ``{"file": PATH}`` or ``{"folder": PATH}`` is a FlyteFile or FlyteDirectory of that local
path, which FlyteRemote uploads through the DataProxy. Every ``launch`` entry is fetched and started with
``FlyteRemote.execute``; then every execution (launched or
attached) is waited for with ``FlyteRemote.wait`` (syncing its nodes). The last line printed is a JSON object
mapping each key to ``{"execution", "phase", "outputs", "error", "nodes"}``, or to ``{"exception"}`` when the
client raised (with ``"execution"`` when it was started); ``nodes`` maps node ids to ``{"phase", "outputs", "children", "task_executions"}``, and for the
start and end nodes (which FlyteRemote lists but does not sync) to ``{"phase", "data"}``: their inputs and
outputs as GetNodeExecutionData returns them, in protobuf's JSON form. Project ``flytesnacks``, domain
``development``.
"""

from __future__ import annotations

import json
import sys
import traceback
from datetime import timedelta
from pathlib import Path
from typing import Any

from flytekit.configuration import Config
from flytekit.core import constants
from flytekit.core.type_engine import LiteralsResolver
from flytekit.models.common import Labels
from flytekit.models.core.execution import NodeExecutionPhase, WorkflowExecutionPhase
from flytekit.remote import FlyteRemote
from flytekit.remote.executions import FlyteNodeExecution, FlyteWorkflowExecution
from flytekit.tools.translator import Options
from flytekit.types.directory import FlyteDirectory
from flytekit.types.file import FlyteFile
from google.protobuf import json_format

PROJECT = "flytesnacks"
DOMAIN = "development"


def launch(remote: FlyteRemote, entry: dict[str, Any], version: str) -> FlyteWorkflowExecution:
    """Fetch the registered entity ``entry`` names and start it with the inputs it gives."""
    fetch = {
        "workflow": remote.fetch_workflow,
        "launch_plan": remote.fetch_launch_plan,
        "task": remote.fetch_task,
    }[entry["kind"]]
    entity = fetch(name=entry["name"], version=version)
    options = Options(labels=Labels(entry["labels"])) if "labels" in entry else None
    inputs = {name: local_data(value) for name, value in entry["inputs"].items()}
    return remote.execute(entity, inputs=inputs, envs=entry.get("envs"), options=options)


def local_data(value: Any) -> Any:
    """A plan's input value: ``{"file": PATH}`` and ``{"folder": PATH}`` name local data to upload."""
    if isinstance(value, dict) and set(value) == {"file"}:
        return FlyteFile(value["file"])
    if isinstance(value, dict) and set(value) == {"folder"}:
        return FlyteDirectory(value["folder"])
    return value


def fetched(value: Any) -> Any:
    """An output as JSON: a file as ``{"file": its text}`` and a folder as ``{"folder": {name: text}}``, both
    read after FlyteRemote downloads them (a file's ``path`` is where that download lands)."""
    if isinstance(value, FlyteFile):
        return {"file": Path(value.download()).read_text()}
    if isinstance(value, FlyteDirectory):
        local = Path(value.download())
        return {"folder": {item.name: item.read_text() for item in sorted(local.iterdir())}}
    return value


def values(outputs: LiteralsResolver | None) -> dict[str, Any] | None:
    """Outputs as Python values; None where flytekit knows no interface to read them with (branch nodes). A
    value whose Python type flytekit cannot guess here (a dataclass of user code the driver does not import)
    is given as its literal, in protobuf's JSON form. Files and folders are downloaded and read (a failure to
    download is the execution's exception)."""
    if outputs is None or outputs.variable_map is None:
        return None
    result: dict[str, Any] = {}
    for name, literal in outputs.literals.items():
        try:
            value = outputs.get(name)
        except Exception:
            result[name] = {"literal": json_format.MessageToDict(literal.to_flyte_idl())}
            continue
        result[name] = fetched(value)
    return result


def describe_nodes(remote: FlyteRemote, nodes: dict[str, FlyteNodeExecution]) -> dict[str, Any]:
    """Phase, outputs and child nodes of every node execution FlyteRemote synced (data of start and end
    nodes)."""
    described: dict[str, Any] = {}
    for node_id, node in sorted(nodes.items()):
        phase = NodeExecutionPhase.enum_to_string(node.closure.phase)
        if node.metadata.spec_node_id in (constants.START_NODE_ID, constants.END_NODE_ID):
            data = remote.client.get_node_execution_data(node.id)
            described[node_id] = {
                "phase": phase,
                "data": {
                    "inputs": json_format.MessageToDict(data.full_inputs.to_flyte_idl()),
                    "outputs": json_format.MessageToDict(data.full_outputs.to_flyte_idl()),
                },
            }
            continue
        described[node_id] = {
            "phase": phase,
            "outputs": values(node.outputs) if node.closure.phase == NodeExecutionPhase.SUCCEEDED else None,
            "children": describe_nodes(remote, node.subworkflow_node_executions),
            "task_executions": len(node.task_executions),
        }
    return described


def describe(remote: FlyteRemote, execution: FlyteWorkflowExecution) -> dict[str, Any]:
    """What the test checks of a finished execution."""
    return {
        "execution": execution.id.name,
        "phase": WorkflowExecutionPhase.enum_to_string(execution.closure.phase),
        "outputs": values(execution.outputs) if execution.is_successful else None,
        "error": execution.error.message if execution.error is not None else None,
        "nodes": describe_nodes(remote, execution.node_executions),
    }


def main(config: str, plan_path: str) -> None:
    """Launch, wait, print the results."""
    plan = json.loads(Path(plan_path).read_text())
    remote = FlyteRemote(Config.auto(config_file=config), default_project=PROJECT, default_domain=DOMAIN)
    results: dict[str, Any] = {}
    started: dict[str, FlyteWorkflowExecution] = {}
    for entry in plan.get("launch", []):
        try:
            started[entry["key"]] = launch(remote, entry, plan["version"])
        except Exception:
            results[entry["key"]] = {"exception": traceback.format_exc()}
    for entry in plan.get("attach", []):
        try:
            started[entry["key"]] = remote.fetch_execution(name=entry["execution"])
        except Exception:
            results[entry["key"]] = {"exception": traceback.format_exc()}
    for key, execution in started.items():
        try:
            done = remote.wait(
                execution, timeout=timedelta(seconds=plan["timeout"]), poll_interval=timedelta(seconds=1)
            )
            results[key] = describe(remote, done)
        except Exception:
            results[key] = {"exception": traceback.format_exc(), "execution": execution.id.name}
    print(json.dumps(results, default=repr))


if __name__ == "__main__":
    main(*sys.argv[1:])
