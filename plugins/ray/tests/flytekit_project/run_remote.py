"""Run with flytekit's interpreter: `python run_remote.py CONFIG WORKFLOW VERSION N` executes a registered
workflow through FlyteRemote, waits, and prints its phase and outputs as JSON."""

import json
import sys
from datetime import timedelta

from flytekit.configuration import Config
from flytekit.models.core.execution import WorkflowExecutionPhase
from flytekit.remote import FlyteRemote


def main() -> None:
    config, name, version, n = sys.argv[1:5]
    remote = FlyteRemote(Config.auto(config), default_project="flytesnacks", default_domain="development")
    workflow = remote.fetch_workflow(name=name, version=version)
    execution = remote.execute(workflow, inputs={"n": int(n)})
    execution = remote.wait(execution, timeout=timedelta(minutes=5))
    result = {"phase": WorkflowExecutionPhase.enum_to_string(execution.closure.phase)}
    if execution.is_successful:
        result["o0"] = execution.outputs["o0"]
    elif execution.error is not None:
        result["error"] = execution.error.message
    print(json.dumps(result))


if __name__ == "__main__":
    main()
