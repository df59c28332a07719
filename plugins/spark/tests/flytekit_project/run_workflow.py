"""Start a registered workflow with FlyteRemote and wait for it (flytekit's virtualenv's python).

    python run_workflow.py CONFIG NAME VERSION INPUTS_JSON

Prints one JSON line: ``{"phase": ..., "outputs": {...}, "error": "..."}``.
"""

import json
import sys
from datetime import timedelta

from flytekit.configuration import Config
from flytekit.models.core.execution import WorkflowExecutionPhase
from flytekit.remote import FlyteRemote


def main() -> None:
    config, name, version, inputs = sys.argv[1:]
    remote = FlyteRemote(
        Config.auto(config_file=config), default_project="flytesnacks", default_domain="development"
    )
    workflow = remote.fetch_workflow(name=name, version=version)
    execution = remote.execute(workflow, inputs=json.loads(inputs))
    execution = remote.wait(execution, timeout=timedelta(seconds=500))
    phase = WorkflowExecutionPhase.enum_to_string(execution.closure.phase)
    outputs = {}
    if phase == "SUCCEEDED":
        outputs = {key: execution.outputs.get(key) for key in execution.outputs.literals}
    error = execution.closure.error.message if execution.closure.error else ""
    print(json.dumps({"phase": phase, "outputs": outputs, "error": error}))


if __name__ == "__main__":
    main()
