"""Run in flytekit's virtualenv: launch the registered workflow with FlyteRemote, wait, print the result as JSON."""

import datetime
import json
import sys

from flytekit.configuration import Config
from flytekit.remote import FlyteRemote

config_file, version = sys.argv[1], sys.argv[2]
remote = FlyteRemote(Config.auto(config_file), default_project="flytesnacks", default_domain="development")
plan = remote.fetch_launch_plan(name="queries.queries", version=version)
execution = remote.execute(plan, inputs={"minimum": 10.0, "threshold": 50.0})
execution = remote.wait(
    execution, timeout=datetime.timedelta(seconds=120), poll_interval=datetime.timedelta(seconds=1)
)
result = {
    "phase": execution.closure.phase,
    "error": execution.closure.error.message if execution.closure.error else "",
    "outputs": {
        name: literal.scalar.structured_dataset.uri for name, literal in execution.outputs.literals.items()
    }
    if execution.closure.phase == 4
    else {},
}
print(json.dumps(result))
