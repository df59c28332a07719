"""A real flytekit recovers a failed execution on `roost start` (``FlyteRemote.client.recover_execution``, what
``flytectl create execution --recover`` sends) and fetches outputs by ``flyte://`` URL (``FlyteRemote.get``, which
calls DataProxyService.GetData): the recovered execution re-runs only the step that failed and the one after."""

from __future__ import annotations

import json

from flytekit_support import Flytekit

pytest_plugins = ["flytekit_support"]

VERSION = "recover-v1"
RECOVERED_MODE = 5
"""flyteidl's ExecutionMetadata.RECOVERED."""
SUCCEEDED, FAILED, NODE_RECOVERED = 4, 6, 10
"""flyteidl's WorkflowExecution.SUCCEEDED and FAILED, and NodeExecution.RECOVERED."""


def test_flytekit_recovers_a_failed_execution_and_fetches_outputs(flytekit: Flytekit) -> None:
    registered = flytekit.register("recovery.py", VERSION)
    assert registered.returncode == 0, flytekit.explain(registered)
    folder = flytekit.project.parent
    result = flytekit.run(
        [
            flytekit.env.python,
            "recover_driver.py",
            str(flytekit.config),
            VERSION,
            str(folder / "recover-runs.log"),
            str(folder / "recover-flag"),
        ]
    )
    assert result.returncode == 0, flytekit.explain(result)
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["original_phase"] == FAILED
    assert found["original_runs"] == ["first", "second"]
    assert found["recovered_phase"] == SUCCEEDED
    assert found["recovered_runs"] == ["second", "third"]
    assert found["mode"] == RECOVERED_MODE
    assert found["reference"] == found["original"]
    assert found["outputs"] == {"o0": 53}
    assert found["n0_phase"] == NODE_RECOVERED
    assert found["get_all"] == {"o0": 50}
    assert "53" in found["get_one"]
