"""flytekit's client (``FlyteRemote.client``) calling the matchable attribute RPCs of `roost start`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml
from conftest import Starter
from flytekit_env import FlytekitEnv

pytest_plugins = ["flytekit_env"]

CLIENT = Path(__file__).parent / "flytekit_project" / "attributes_client.py"


def test_flytekits_client_sets_reads_and_lists_attributes(
    roost_server: Starter, flytekit_env: FlytekitEnv, tmp_path: Path
) -> None:
    server = roost_server()
    config = tmp_path / "pyflyte.yaml"
    config.write_text(
        yaml.safe_dump({"admin": {"endpoint": f"dns:///{server.grpc_endpoint}", "insecure": True}})
    )
    result = subprocess.run(
        [flytekit_env.python, str(CLIENT), str(config)],
        check=False,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{server.log()[-4000:]}"
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["domain"] == {
        "project": "flytesnacks",
        "domain": "development",
        "matchingAttributes": {"clusterResourceAttributes": {"attributes": {"projectQuotaCpu": "4"}}},
    }
    assert seen["workflow"]["workflow"] == "flows.hello"
    assert seen["workflow"]["matchingAttributes"] == {"executionQueueAttributes": {"tags": ["gpu", "fast"]}}
    assert seen["plugins"]["matchingAttributes"] == {
        "pluginOverrides": {
            "overrides": [
                {
                    "taskType": "python-task",
                    "pluginId": ["local-process"],
                    "missingPluginBehavior": "USE_DEFAULT",
                }
            ]
        }
    }
    assert seen["listed"] == {
        "configurations": [
            {
                "attributes": {"executionQueueAttributes": {"tags": ["gpu", "fast"]}},
                "project": "flytesnacks",
                "domain": "development",
                "workflow": "flows.hello",
            }
        ]
    }
    assert seen["missing"] == "FlyteEntityNotExistException"
