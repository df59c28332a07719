"""The client side of the flytekit recovery end-to-end test (run with flytekit's virtualenv's python).

    python recover_driver.py CONFIG VERSION LOG FLAG

Runs ``recovery.recoverable`` with FlyteRemote while the file ``FLAG`` exists (so it fails), removes the flag,
recovers the execution with flytekit's client (``FlyteRemote.client.recover_execution``, what
``flytectl create execution --recover`` sends), waits for the recovered execution, and fetches outputs with
``FlyteRemote.get`` on ``flyte://`` URLs (DataProxyService.GetData). The last line printed is JSON: the phases,
the recovered execution's outputs and metadata, the task runs noted in ``LOG`` after each execution, and what
``FlyteRemote.get`` returned.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import timedelta
from pathlib import Path

from flytekit.configuration import Config
from flytekit.remote import FlyteRemote

PROJECT = "flytesnacks"
DOMAIN = "development"


def noted(log: Path) -> list[str]:
    """The runs noted since the last call (and forget them)."""
    if not log.exists():
        return []
    lines = log.read_text().splitlines()
    log.unlink()
    return sorted(lines)


def main(config: str, version: str, log: Path, flag: Path) -> dict[str, object]:
    remote = FlyteRemote(Config.auto(config), default_project=PROJECT, default_domain=DOMAIN)
    workflow = remote.fetch_workflow(name="recovery.recoverable", version=version)
    flag.touch()
    original = remote.execute(workflow, inputs={"log": str(log), "flag": str(flag), "x": 4})
    original = remote.wait(original, timeout=timedelta(seconds=150))
    first_runs = noted(log)
    flag.unlink()
    new_id = remote.client.recover_execution(original.id)
    recovered = remote.wait(remote.fetch_execution(name=new_id.name), timeout=timedelta(seconds=150))
    base = f"flyte://v1/{PROJECT}/{DOMAIN}/{new_id.name}"
    fetched_all = remote.get(f"{base}/n1/o")
    fetched_one = remote.get(f"{base}/n2/o/o0")
    return {
        "original_phase": original.closure.phase,
        "original_runs": first_runs,
        "recovered_phase": recovered.closure.phase,
        "recovered_runs": noted(log),
        "mode": recovered.spec.metadata.mode,
        "reference": recovered.spec.metadata.reference_execution.name,
        "original": original.id.name,
        "outputs": {"o0": recovered.outputs["o0"]},
        "n0_phase": recovered.node_executions["n0"].closure.phase,
        "get_all": {"o0": fetched_all.get("o0", int)},
        "get_one": str(fetched_one),
    }


if __name__ == "__main__":
    os.environ.setdefault("FLYTE_SDK_LOGGING_LEVEL", "40")
    print(json.dumps(main(sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))))
