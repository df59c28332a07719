"""Starts a registered launch plan with FlyteRemote and waits for it (run with flytekit's virtualenv's python).

    python launch.py CONFIG NAME VERSION INPUTS_JSON OUTPUT_NAMES

Prints one JSON line: ``{"phase", "error", "outputs"}`` (outputs as integers, by name).
"""

import json
import sys
from datetime import timedelta

from flytekit.configuration import Config
from flytekit.models.core.execution import WorkflowExecutionPhase
from flytekit.remote import FlyteRemote


def main() -> None:
    config, name, version, inputs, names = sys.argv[1:6]
    remote = FlyteRemote(
        Config.auto(config_file=config), default_project="flytesnacks", default_domain="development"
    )
    plan = remote.fetch_launch_plan(name=name, version=version)
    execution = remote.execute(plan, inputs=json.loads(inputs))
    execution = remote.wait(execution, timeout=timedelta(seconds=240), poll_interval=timedelta(seconds=1))
    phase = WorkflowExecutionPhase.enum_to_string(execution.closure.phase)
    outputs = {}
    if phase == "SUCCEEDED":
        outputs = {key: execution.outputs.get(key, as_type=int) for key in names.split(",") if key}
    error = execution.error.message if execution.error is not None else None
    print(json.dumps({"phase": phase, "error": error, "outputs": outputs}))


if __name__ == "__main__":
    main()
